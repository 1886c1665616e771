//! Running the host tools: `ip`, `nft`, `dnsmasq`, `sysctl`. One small
//! function per kind of call, so every host action is greppable.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::Error;

/// Runs `prog args…`, returns stdout; a non-zero exit is an error carrying stderr.
pub async fn run(prog: &str, args: &[&str]) -> Result<String, Error> {
    run_input(prog, args, None).await
}

/// Like [`run`], writing `input` to the command's stdin.
pub async fn run_input(prog: &str, args: &[&str], input: Option<&str>) -> Result<String, Error> {
    let shown = || format!("{prog} {}", args.join(" "));
    let mut cmd = Command::new(resolve(prog));
    cmd.args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| Error::Command { command: shown(), message: e.to_string() })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| Error::Command { command: shown(), message: e.to_string() })?;
    }
    let out =
        child.wait_with_output().await.map_err(|e| Error::Command { command: shown(), message: e.to_string() })?;
    if !out.status.success() {
        let mut message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if let Some(text) = input {
            // nft errors point at script lines: keep the script for the log.
            message.push_str("\n--- input ---\n");
            message.push_str(text);
        }
        return Err(Error::Command { command: shown(), message });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip [-n ns] args…`
pub async fn ip(ns: Option<&str>, args: &[&str]) -> Result<String, Error> {
    match ns {
        None => run("ip", args).await,
        Some(ns) => {
            let mut v = vec!["-n", ns];
            v.extend_from_slice(args);
            run("ip", &v).await
        }
    }
}

/// `ip [-n ns] -j args…`, parsed (an empty output is an empty list).
pub async fn ip_json(ns: Option<&str>, args: &[&str]) -> Result<serde_json::Value, Error> {
    let mut v = vec!["-j"];
    v.extend_from_slice(args);
    let out = ip(ns, &v).await?;
    if out.trim().is_empty() {
        return Ok(serde_json::Value::Array(vec![]));
    }
    serde_json::from_str(&out).map_err(|e| Error::host(format!("ip {}: bad JSON", args.join(" ")), e))
}

/// Runs `prog args…` inside namespace `ns` (`ip netns exec`).
pub async fn in_ns(ns: &str, prog: &str, args: &[&str], input: Option<&str>) -> Result<String, Error> {
    let prog = resolve(prog);
    let mut v = vec!["netns", "exec", ns, prog.as_str()];
    v.extend_from_slice(args);
    run_input("ip", &v, input).await
}

/// Loads an nft script (`nft -f -`) on the host or in a namespace: one
/// transaction, all or nothing.
pub async fn nft_load(ns: Option<&str>, script: &str) -> Result<(), Error> {
    match ns {
        None => run_input("nft", &["-f", "-"], Some(script)).await.map(|_| ()),
        Some(ns) => in_ns(ns, "nft", &["-f", "-"], Some(script)).await.map(|_| ()),
    }
}

/// The `(family, name)` of every nft table on the host or in a namespace (`nft -j list tables`).
pub async fn nft_tables(ns: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let out = match ns {
        None => run("nft", &["-j", "list", "tables"]).await?,
        Some(ns) => in_ns(ns, "nft", &["-j", "list", "tables"], None).await?,
    };
    let v: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| Error::host("nft -j list tables: bad JSON", e))?;
    let mut tables = Vec::new();
    for item in v.get("nftables").and_then(|x| x.as_array()).into_iter().flatten() {
        if let Some(t) = item.get("table") {
            if let (Some(f), Some(n)) =
                (t.get("family").and_then(|x| x.as_str()), t.get("name").and_then(|x| x.as_str()))
            {
                tables.push((f.to_string(), n.to_string()));
            }
        }
    }
    Ok(tables)
}

/// Sets a sysctl inside a namespace (`ip netns exec NS sysctl -qw k=v`).
pub async fn sysctl_ns(ns: &str, key: &str, value: &str) -> Result<(), Error> {
    in_ns(ns, "sysctl", &["-qw", &format!("{key}={value}")], None).await.map(|_| ())
}

/// `prog` itself when on the PATH, else `/usr/sbin/prog` or `/sbin/prog`
/// when there (a service started with a PATH without the sbin directories).
fn resolve(prog: &str) -> String {
    if prog.contains('/') || on_path(prog) {
        return prog.to_string();
    }
    for dir in ["/usr/sbin", "/sbin"] {
        let p = std::path::Path::new(dir).join(prog);
        if p.is_file() {
            return p.to_string_lossy().into_owned();
        }
    }
    prog.to_string()
}

/// Whether `prog` can be run: on the PATH, or in /usr/sbin or /sbin.
pub fn available(prog: &str) -> bool {
    on_path(prog) || ["/usr/sbin", "/sbin"].iter().any(|d| std::path::Path::new(d).join(prog).is_file())
}

/// Whether `prog` is an executable on the PATH.
pub fn on_path(prog: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p).any(|d| {
                std::fs::metadata(d.join(prog))
                    .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}
