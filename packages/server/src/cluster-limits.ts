// maxConnectionsPerUid across processes that serve one socket (the CLI's --workers). The primary is the one
// authority: for each uid it knows every slot, its own connections' and those it has leased to a worker. A
// worker asks for slots in batches (a lease) and counts its connections against them itself, so most accepts
// need no round trip: a message over the IPC channel cost a connection more than all the rest of the
// counting (about a third of a worker's CPU per connection, measured). The limit stays exact: the slots of a
// uid, leased or used, never add up past its limit, and before the primary refuses anyone it takes back every
// lease slot no connection uses (a reclaim), so a uid is refused only when its connections really fill the
// limit. After a reclaim a worker hands each slot back as its connection closes (no spare kept for a uid at
// its limit), and it hands back the spare of a uid that has been idle for a while, so leases stay bounded.
// Messages of one event-loop turn go in one message each way.
//
// The homes: the primary's lease table (LeasedUidCounts, answerUidCounts) in uid-lease-table.ts, a worker's
// side (RemoteUidCounts) in uid-lease-worker.ts, the messages both exchange in uid-lease-protocol.ts.
export { type CountChannel } from './uid-lease-protocol.js';
export { answerUidCounts, LeasedUidCounts } from './uid-lease-table.js';
export { RemoteUidCounts } from './uid-lease-worker.js';
