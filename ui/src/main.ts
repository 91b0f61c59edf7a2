/** The window's entry point: starts the app over the real Tauri IPC. */

import { startApp } from "./app";
import { tauriIpc } from "./ipc";

void startApp(tauriIpc);
