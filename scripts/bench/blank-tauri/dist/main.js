// Same signal as SMTP Desk's ui_ready, without a bundler: Tauri's internal invoke is always there.
document.addEventListener("DOMContentLoaded", () => {
  window.__TAURI_INTERNALS__.invoke("ready");
});
