//! QEMU processes: starting one that outlives us, recognising ours in
//! /proc, signalling and waiting for them.
//!
//! A VM's QEMU is started in a session of its own (`setsid`) with its output
//! in a file, so nothing ties it to the control plane: no controlling
//! terminal, no process group a signal to ours would reach, no pipe whose
//! closing would kill it. When the control plane exits, QEMU is re-parented
//! to init and keeps running; the next control plane finds it again by its
//! pidfile and command line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

pub fn read_pidfile(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok().filter(|p| *p > 0)
}

/// The argv of a process, None when it is gone.
pub fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None; // a zombie or a kernel thread
    }
    Some(raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

/// Running (a zombie counts as gone).
pub fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the field after the parenthesised command name
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

fn is_qemu_argv0(a: &str) -> bool {
    Path::new(a).file_name().and_then(|f| f.to_str()).is_some_and(|f| f.starts_with("qemu-system"))
}

/// The pidfile a QEMU command line names.
fn pidfile_arg(argv: &[String]) -> Option<PathBuf> {
    argv.windows(2).find(|w| w[0] == "-pidfile").map(|w| PathBuf::from(&w[1]))
}

/// True when `pid` is alive and is the QEMU started with `pidfile`: a pid
/// read from a stale pidfile may since belong to anything else.
pub fn is_our_qemu(pid: i32, pidfile: &Path) -> bool {
    match cmdline(pid) {
        Some(argv) => {
            is_alive(pid)
                && argv.first().is_some_and(|a| is_qemu_argv0(a))
                && pidfile_arg(&argv).as_deref() == Some(pidfile)
        }
        None => false,
    }
}

/// Every live QEMU whose pidfile lies directly in an instance dir under
/// `root`: (pid, instance id).
pub fn scan(root: &Path) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Some(argv) = cmdline(pid) else { continue };
        if !argv.first().is_some_and(|a| is_qemu_argv0(a)) || !is_alive(pid) {
            continue;
        }
        let Some(pf) = pidfile_arg(&argv) else { continue };
        let Some(inst) = pf.parent() else { continue };
        if inst.parent() != Some(root) {
            continue;
        }
        if let Some(id) = inst.file_name().and_then(|n| n.to_str()) {
            out.push((pid, id.to_string()));
        }
    }
    out
}

pub fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Polls until `pid` is gone or `timeout` passes; true when gone.
pub async fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if !is_alive(pid) {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM (QEMU exits at once, closing its files), then SIGKILL after
/// `grace`. Only signals `pid` while it still is the QEMU of `pidfile`.
pub async fn kill(pid: i32, pidfile: &Path, grace: Duration) -> Result<()> {
    if !is_our_qemu(pid, pidfile) {
        return Ok(());
    }
    signal(pid, libc::SIGTERM);
    if wait_gone(pid, grace).await {
        return Ok(());
    }
    if is_our_qemu(pid, pidfile) {
        signal(pid, libc::SIGKILL);
    }
    if wait_gone(pid, Duration::from_secs(10)).await {
        Ok(())
    } else {
        Err(Error::Host(format!("QEMU pid {pid} survived SIGKILL")))
    }
}

/// Starts `binary args…` detached (own session, stdin /dev/null, output
/// appended to `log`) and returns its pid. The child is reaped by a task
/// while this process lives; it survives this process's exit.
pub fn spawn_detached(binary: &str, args: &[String], log: &Path) -> Result<i32> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::host(format!("open {}", log.display()), e))?;
    let err = out.try_clone().map_err(|e| Error::host("dup log", e))?;
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err).kill_on_drop(false);
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::Command { command: binary.to_string(), message: e.to_string() })?;
    let pid = child.id().ok_or_else(|| Error::Host(format!("{binary} exited at once")))? as i32;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(pid)
}

/// The last `max` bytes of a file (lossy UTF-8), starting at a line when it can.
pub fn tail(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(max);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity((len - start) as usize);
    f.read_to_end(&mut buf)?;
    if start > 0 {
        if let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            if nl + 1 < buf.len() {
                buf.drain(..=nl);
            }
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_process_is_not_a_qemu_and_tail_cuts_at_lines() {
        let me = std::process::id() as i32;
        assert!(is_alive(me));
        assert!(!is_our_qemu(me, Path::new("/nonexistent/qemu.pid")));
        assert!(!is_alive(i32::MAX));
        let p = std::env::temp_dir().join(format!("rustack-qemu-tail-{me}"));
        std::fs::write(&p, b"line one\nline two\nline three\n").unwrap();
        assert_eq!(tail(&p, 1000).unwrap(), "line one\nline two\nline three\n");
        assert_eq!(tail(&p, 14).unwrap(), "line three\n");
        let _ = std::fs::remove_file(&p);
        assert_eq!(pidfile_arg(&["q".into(), "-pidfile".into(), "/a/b".into()]), Some(PathBuf::from("/a/b")));
    }
}
