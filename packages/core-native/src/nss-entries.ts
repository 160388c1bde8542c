// The user and group entries NSS answers with: one type each, the addon's getpw*/getgr* results as the pool
// hands them on unchanged.

/** A passwd entry (getpwuid/getpwnam). */
export interface UserEntry {
  uid: number;
  gid: number;
  name: string;
  home: string;
  shell: string;
}

/** A group entry (getgrgid). */
export interface GroupEntry {
  gid: number;
  name: string;
  members: string[];
}
