//! Threads that compute while the window draws (steps, loads, rebuilds,
//! replays, slow plots). They run below the window's own thread: on Linux
//! each lowers its own priority by `NICER` (a nice value, per thread there),
//! and the threads a parallel pass starts from it inherit that. On two
//! cores a slow step's two threads then no longer make a frame wait for a
//! core; the step takes what the frames leave. Elsewhere they run at the
//! window's priority.

use std::thread::JoinHandle;

/// How much nicer than the window a background thread is: at nice 10 the
/// scheduler weighs it about a tenth of a nice-0 thread (110 against 1024).
const NICER: i32 = 10;

/// Starts `f` on a thread named `name`, below the window's priority.
pub(super) fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            lower_priority();
            f()
        })
}

/// Lowers the calling thread's priority by `NICER`; if the system refuses,
/// the thread runs as it was.
#[cfg(target_os = "linux")]
fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    let me = Some(rustix::thread::gettid());
    if let Ok(nice) = getpriority_process(me) {
        let _ = setpriority_process(me, (nice + NICER).min(19));
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The calling thread's nice value, as getpriority gives it, checked
    /// against the kernel's own record (field 19 of /proc/thread-self/stat).
    fn nice() -> i32 {
        let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid()))
            .expect("getpriority");
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
        let after_name = &stat[stat.rfind(')').expect("name") + 1..];
        let field_19 = after_name.split_whitespace().nth(16).expect("nice field");
        assert_eq!(field_19.parse::<i32>().ok(), Some(nice));
        nice
    }

    #[test]
    fn a_background_thread_and_the_threads_it_starts_run_below_the_caller() {
        let caller = nice();
        let (own, child, pass) = spawn("steplab-test", || {
            let own = nice();
            let child = std::thread::scope(|s| s.spawn(nice).join().expect("child thread"));
            // A pass over enough rows for every core: its helper threads.
            let pass = crate::algorithms::pass::over_row_ranges(1 << 20, |_, _| nice());
            (own, child, pass)
        })
        .expect("spawn")
        .join()
        .expect("join");
        assert_eq!(own, (caller + NICER).min(19));
        assert_eq!(child, own, "the threads it starts inherit the priority");
        assert!(
            pass.iter().all(|&p| p == own),
            "a pass runs at it: {pass:?}"
        );
        assert_eq!(nice(), caller, "the caller's own priority is untouched");
    }
}
