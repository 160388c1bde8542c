{
  "targets": [
    {
      "target_name": "peerauth_core",
      "sources": ["src/native/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # A lookup abandoned on timeout returns into a worker that is being terminated; without this the
        # first napi call that fails there aborts the whole process (fatal napi_throw). With it the late
        # result is dropped and the stuck thread ends as soon as the native call returns.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["src/native/peercred_linux.cc", "src/native/procinfo_linux.cc", "src/native/lookup_posix.cc"]
        }],
        ["OS=='mac'", {
          "sources": ["src/native/peercred_darwin.cc", "src/native/procinfo_darwin.cc", "src/native/lookup_posix.cc"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "GCC_OPTIMIZATION_LEVEL": "2"
          }
        }],
        ["OS=='freebsd'", {
          "sources": ["src/native/peercred_freebsd.cc", "src/native/procinfo_freebsd.cc", "src/native/lookup_posix.cc"]
        }],
        ["OS!='linux' and OS!='mac' and OS!='freebsd'", {
          "sources": ["src/native/peercred_unsupported.cc", "src/native/procinfo_unsupported.cc", "src/native/lookup_unsupported.cc"]
        }]
      ]
    }
  ]
}
