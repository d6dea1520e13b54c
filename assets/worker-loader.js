// Starts the engine's Web Worker: loads the wasm-bindgen glue and the
// WebAssembly that Trunk builds from src/bin/worker.rs, next to this file.
// The page adds `?v=VERSION`, passed on so a cached older build is not used.
// A failure to load is thrown again as an uncaught error, so the page hears
// of it (Worker.onerror) and says so instead of waiting forever.
"use strict";
const version = self.location.search;
importScripts("./worker.js" + version);
wasm_bindgen({ module_or_path: "./worker_bg.wasm" + version }).catch((error) => {
  setTimeout(() => {
    throw new Error("its WebAssembly did not load (" + error + ")");
  });
});
