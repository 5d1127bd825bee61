{
  "targets": [
    {
      "target_name": "plexus_shm",
      "sources": ["src/plexus_shm.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lrt", "-lpthread"] }]
      ]
    }
  ]
}
