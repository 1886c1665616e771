//! Tiny eBPF programs for VLAN tagging without the 802.1Q module or a
//! VLAN-filtering bridge (this kernel has neither): a tc classifier in
//! direct-action mode pushes or pops the 802.1Q tag with the
//! `bpf_skb_vlan_push`/`bpf_skb_vlan_pop` helpers and redirects the frame.
//! The instructions are assembled here (a dozen each: no compiler, no ELF,
//! no libbpf), loaded with `bpf(BPF_PROG_LOAD)` and pinned in a bpffs so
//! that `tc filter … bpf da object-pinned <path>` attaches them.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::Error;

/// Where the bpffs is mounted (mounted there when missing).
pub const BPFFS: &str = "/sys/fs/bpf";

// Instruction classes, operations and sources (linux/bpf_common.h, linux/bpf.h).
const ALU64_MOV_K: u8 = 0x07 | 0xb0;
const ALU64_MOV_X: u8 = 0x07 | 0xb0 | 0x08;
const ALU64_AND_K: u8 = 0x07 | 0x50;
const LDX_MEM_W: u8 = 0x01 | 0x60;
const JMP_JEQ_K: u8 = 0x05 | 0x10;
const JMP_JNE_K: u8 = 0x05 | 0x50;
const JMP_CALL: u8 = 0x05 | 0x80;
const JMP_EXIT: u8 = 0x05 | 0x90;

// Helper ids (enum bpf_func_id).
const FN_SKB_VLAN_PUSH: i32 = 18;
const FN_SKB_VLAN_POP: i32 = 19;
const FN_REDIRECT: i32 = 23;

// `struct __sk_buff` field offsets.
const SKB_VLAN_PRESENT: i16 = 20;
const SKB_VLAN_TCI: i16 = 24;

// tc verdicts.
const TC_ACT_UNSPEC: i32 = -1;
const TC_ACT_SHOT: i32 = 2;

const ETH_P_8021Q: u16 = 0x8100;

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (dst & 0xf) | (src << 4), off, imm }
}
fn mov_k(dst: u8, imm: i32) -> Insn {
    insn(ALU64_MOV_K, dst, 0, 0, imm)
}
fn mov_x(dst: u8, src: u8) -> Insn {
    insn(ALU64_MOV_X, dst, src, 0, 0)
}
fn and_k(dst: u8, imm: i32) -> Insn {
    insn(ALU64_AND_K, dst, 0, 0, imm)
}
fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(LDX_MEM_W, dst, src, off, 0)
}
fn jeq_k(dst: u8, imm: i32, off: i16) -> Insn {
    insn(JMP_JEQ_K, dst, 0, off, imm)
}
fn jne_k(dst: u8, imm: i32, off: i16) -> Insn {
    insn(JMP_JNE_K, dst, 0, off, imm)
}
fn call(f: i32) -> Insn {
    insn(JMP_CALL, 0, 0, 0, f)
}
fn exit() -> Insn {
    insn(JMP_EXIT, 0, 0, 0, 0)
}

/// Tags every frame with `vid` and sends it out of `ifindex` (the physical
/// interface). For the ingress of the VLAN network's unbridged veth end.
pub fn tag_program(vid: u16, ifindex: u32) -> Vec<Insn> {
    vec![
        mov_x(6, 1),                          // 0: r6 = skb
        mov_k(2, ETH_P_8021Q.to_be() as i32), // 1: r2 = htons(ETH_P_8021Q)
        mov_k(3, vid as i32),                 // 2: r3 = vid
        call(FN_SKB_VLAN_PUSH),               // 3: push(skb, proto, vid)
        jne_k(0, 0, 4),                       // 4: failed → 9
        mov_k(1, ifindex as i32),             // 5
        mov_k(2, 0),                          // 6: egress
        call(FN_REDIRECT),                    // 7: TC_ACT_REDIRECT
        exit(),                               // 8
        mov_k(0, TC_ACT_SHOT),                // 9
        exit(),                               // 10
    ]
}

/// Frames tagged `vid` lose their tag and go out of `ifindex` (the VLAN
/// network's veth end, into its bridge); every other frame is left to the
/// next filter and then the stack (a flat network's bridge). For the
/// ingress of the physical interface, one filter per VLAN id.
pub fn untag_program(vid: u16, ifindex: u32) -> Vec<Insn> {
    vec![
        mov_x(6, 1),                   // 0: r6 = skb
        ldx_w(0, 6, SKB_VLAN_PRESENT), // 1
        jeq_k(0, 0, 10),               // 2: untagged → 13
        ldx_w(0, 6, SKB_VLAN_TCI),     // 3
        and_k(0, 0x0fff),              // 4: the VLAN id
        jne_k(0, vid as i32, 7),       // 5: another VLAN → 13
        mov_x(1, 6),                   // 6
        call(FN_SKB_VLAN_POP),         // 7
        jne_k(0, 0, 6),                // 8: failed → 15
        mov_k(1, ifindex as i32),      // 9
        mov_k(2, 0),                   // 10: egress
        call(FN_REDIRECT),             // 11
        exit(),                        // 12
        mov_k(0, TC_ACT_UNSPEC),       // 13
        exit(),                        // 14
        mov_k(0, TC_ACT_SHOT),         // 15
        exit(),                        // 16
    ]
}

/// `union bpf_attr` for BPF_PROG_LOAD, as far as we fill it.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_OBJ_PIN.
#[repr(C)]
#[derive(Default)]
struct ObjPinAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;

fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> libc::c_long {
    // SAFETY: `attr` is a live, initialised `bpf_attr` prefix of the size we pass.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>() as u32) }
}

/// Loads a SCHED_CLS program named `name` (≤ 15 of `[A-Za-z0-9_.]`). On a
/// verifier rejection the error carries the verifier's log.
pub fn load(name: &str, prog: &[Insn]) -> Result<OwnedFd, Error> {
    let license = CString::new("GPL").expect("no NUL");
    let mut pname = [0u8; 16];
    for (d, s) in pname.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let attempt = |log: Option<&mut Vec<u8>>| {
        let mut a = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_SCHED_CLS,
            insn_cnt: prog.len() as u32,
            insns: prog.as_ptr() as u64,
            license: license.as_ptr() as u64,
            prog_name: pname,
            ..Default::default()
        };
        if let Some(buf) = log {
            a.log_level = 1;
            a.log_size = buf.len() as u32;
            a.log_buf = buf.as_mut_ptr() as u64;
        }
        let r = sys_bpf(BPF_PROG_LOAD, &mut a);
        (r, std::io::Error::last_os_error())
    };
    let (fd, err) = attempt(None);
    if fd >= 0 {
        // SAFETY: the kernel returned a fresh fd we now own.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    }
    // Again with the verifier's log, to say why.
    let mut buf = vec![0u8; 64 * 1024];
    let (fd2, _) = attempt(Some(&mut buf));
    if fd2 >= 0 {
        // SAFETY: as above (the first failure was transient).
        return Ok(unsafe { OwnedFd::from_raw_fd(fd2 as i32) });
    }
    let log = String::from_utf8_lossy(&buf[..buf.iter().position(|&b| b == 0).unwrap_or(0)]).trim().to_string();
    Err(Error::Host(format!("bpf(BPF_PROG_LOAD) of {name}: {err}; verifier log: {log}")))
}

/// Pins a loaded program at `path` (inside a bpffs), replacing a file there.
pub fn pin(fd: &OwnedFd, path: &Path) -> Result<(), Error> {
    let _ = std::fs::remove_file(path);
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Invalid(format!("bad pin path {}", path.display())))?;
    let mut a = ObjPinAttr { pathname: c.as_ptr() as u64, bpf_fd: fd.as_raw_fd() as u32, file_flags: 0 };
    if sys_bpf(BPF_OBJ_PIN, &mut a) < 0 {
        return Err(Error::host(format!("bpf(BPF_OBJ_PIN) at {}", path.display()), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Whether a bpffs is mounted at [`BPFFS`]; mounts one when not.
pub fn ensure_bpffs() -> Result<(), Error> {
    let mounted = std::fs::read_to_string("/proc/mounts")
        .map(|m| {
            m.lines().any(|l| l.split_whitespace().nth(1) == Some(BPFFS) && l.split_whitespace().nth(2) == Some("bpf"))
        })
        .unwrap_or(false);
    if mounted {
        return Ok(());
    }
    let _ = std::fs::create_dir_all(BPFFS);
    let (src, target, fstype) = (
        CString::new("bpf").expect("no NUL"),
        CString::new(BPFFS).expect("no NUL"),
        CString::new("bpf").expect("no NUL"),
    );
    // SAFETY: valid NUL-terminated strings; no data argument.
    let r = unsafe { libc::mount(src.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
    if r != 0 {
        return Err(Error::host(format!("mount a bpffs at {BPFFS}"), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Whether this host can tag VLANs the eBPF way: root, a bpffs, and a
/// program the kernel accepts. The reason when not.
pub fn probe() -> Result<(), String> {
    ensure_bpffs().map_err(|e| e.to_string())?;
    load("rustack_probe", &untag_program(1, 1)).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        // r6 = r1 is bf 16 00 00 00 00 00 00 on little-endian hosts.
        let i = mov_x(6, 1);
        assert_eq!((i.code, i.regs, i.off, i.imm), (0xbf, 0x16, 0, 0));
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(call(FN_REDIRECT).code, 0x85);
        assert_eq!(exit().code, 0x95);
    }

    #[test]
    fn jumps_land_on_the_verdicts() {
        let p = untag_program(100, 7);
        for (pc, i) in p.iter().enumerate() {
            if i.code == JMP_JEQ_K || i.code == JMP_JNE_K {
                let target = &p[pc + 1 + i.off as usize];
                assert_eq!(target.code, ALU64_MOV_K, "jump at {pc}");
                assert!([TC_ACT_UNSPEC, TC_ACT_SHOT].contains(&target.imm), "jump at {pc}");
            }
        }
        let t = tag_program(100, 7);
        assert_eq!(t[4 + 1 + t[4].off as usize].imm, TC_ACT_SHOT);
        assert_eq!(t[2].imm, 100);
    }

    /// Root only: the kernel's verifier accepts both programs.
    #[test]
    fn the_verifier_accepts_them() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP: loading eBPF needs root");
            return;
        }
        load("rs_test_tag", &tag_program(4094, 1)).expect("tag program");
        load("rs_test_untag", &untag_program(4094, 1)).expect("untag program");
        let bad = [mov_k(1, 0), exit()]; // r0 never set: rejected
        let e = load("rs_test_bad", &bad).unwrap_err().to_string();
        assert!(e.contains("verifier log") && e.contains("R0"), "{e}");
    }
}
