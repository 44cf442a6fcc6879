// node:http and node:https as Umbra's modules use them, loaded with process.getBuiltinModule rather
// than an ESM import. Why: an ESM import of node:http builds a namespace from every export, and on
// Node 22 and 24 reading the lazy `WebSocket` export loads node's own bundled undici with its web
// streams, workers and zlib — about 3 MiB resident in every process, used by nothing here.
// Types still come from `import type … from 'node:http'` (erased at build time).

export const http = process.getBuiltinModule('node:http');
export const https = process.getBuiltinModule('node:https');
