//! The local emulator of the Workspace tag API (design §7).
