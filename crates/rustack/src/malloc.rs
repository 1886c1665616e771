//! glibc malloc tuning, applied first thing in `main` (before any thread).
//!
//! glibc gives each thread that contends for the heap its own arena, up to
//! 8 per core, and an arena keeps the memory its thread freed. rustack's
//! threads (tokio workers, one per SQLite connection, blocking pool) each
//! take a turn at building large responses, so with the default every arena
//! ends up holding its own high-water mark: with 5000 servers the process sat
//! at 179-336 MB RSS, 66-74 MB with two arenas or one, at the same boot rate
//! and `/servers/detail` latency (docs/perf/compute.md). An operator's own
//! `MALLOC_ARENA_MAX` wins over this default.

/// Arenas when `MALLOC_ARENA_MAX` is not set.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENA_MAX: i32 = 2;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    // glibc's mallopt(3) parameter number of M_ARENA_MAX
    const M_ARENA_MAX: i32 = -8;
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable of the allocator; called before
        // this process starts any thread
        unsafe {
            mallopt(M_ARENA_MAX, ARENA_MAX);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}
