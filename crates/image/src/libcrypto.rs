//! OpenSSL's EVP message digests from the system's libcrypto, loaded at run
//! time (`dlopen`): neither building rustack nor running it needs OpenSSL
//! (no headers, no pkg-config, no link-time dependency), and where
//! libcrypto is absent or refuses an algorithm (md5 under a FIPS-only
//! provider) [`EvpHasher::new`] says None and the caller uses RustCrypto.
//!
//! Only the seven long-stable EVP functions below are used; they have the
//! same names and signatures in OpenSSL 1.1 and 3.

use std::ffi::{c_int, c_uint, c_void, CStr};
use std::ptr::NonNull;
use std::sync::OnceLock;

type CtxNew = unsafe extern "C" fn() -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type GetMd = unsafe extern "C" fn() -> *const c_void;
type Init = unsafe extern "C" fn(*mut c_void, *const c_void, *mut c_void) -> c_int;
type Update = unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> c_int;
type Final = unsafe extern "C" fn(*mut c_void, *mut u8, *mut c_uint) -> c_int;

struct Lib {
    ctx_new: CtxNew,
    ctx_free: CtxFree,
    md5: GetMd,
    sha512: GetMd,
    init: Init,
    update: Update,
    finish: Final,
}

/// The largest digest EVP writes (`EVP_MAX_MD_SIZE`).
const MAX_MD_SIZE: usize = 64;

fn lib() -> Option<&'static Lib> {
    static LIB: OnceLock<Option<Lib>> = OnceLock::new();
    LIB.get_or_init(load).as_ref()
}

fn load() -> Option<Lib> {
    #[cfg(unix)]
    {
        let names: [&CStr; 2] = [c"libcrypto.so.3", c"libcrypto.so.1.1"];
        // SAFETY: dlopen with a NUL-terminated name; the handle is never closed,
        // so the function pointers below stay valid for the process's life
        let handle = names
            .iter()
            .map(|n| unsafe { libc::dlopen(n.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) })
            .find(|h| !h.is_null())?;
        let sym = |name: &CStr| {
            // SAFETY: dlsym on a live handle with a NUL-terminated name
            let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        // SAFETY: each symbol is the libcrypto function of that name, whose C
        // signature the type it is transmuted to matches (OpenSSL 1.1 and 3)
        unsafe {
            Some(Lib {
                ctx_new: std::mem::transmute::<*mut c_void, CtxNew>(sym(c"EVP_MD_CTX_new")?),
                ctx_free: std::mem::transmute::<*mut c_void, CtxFree>(sym(c"EVP_MD_CTX_free")?),
                md5: std::mem::transmute::<*mut c_void, GetMd>(sym(c"EVP_md5")?),
                sha512: std::mem::transmute::<*mut c_void, GetMd>(sym(c"EVP_sha512")?),
                init: std::mem::transmute::<*mut c_void, Init>(sym(c"EVP_DigestInit_ex")?),
                update: std::mem::transmute::<*mut c_void, Update>(sym(c"EVP_DigestUpdate")?),
                finish: std::mem::transmute::<*mut c_void, Final>(sym(c"EVP_DigestFinal_ex")?),
            })
        }
    }
    #[cfg(not(unix))]
    None
}

#[derive(Clone, Copy)]
pub enum Md {
    Md5,
    Sha512,
}

/// One running digest (an `EVP_MD_CTX`), owned by one thread at a time.
pub struct EvpHasher {
    lib: &'static Lib,
    ctx: NonNull<c_void>,
}

// SAFETY: an EVP_MD_CTX has no thread affinity; it is only ever used through
// `&mut self`, so never from two threads at once
unsafe impl Send for EvpHasher {}

impl EvpHasher {
    /// None when libcrypto is not there or refuses the algorithm.
    pub fn new(md: Md) -> Option<EvpHasher> {
        let lib = lib()?;
        // SAFETY: plain libcrypto calls; a failed init frees the context
        unsafe {
            let ctx = NonNull::new((lib.ctx_new)())?;
            let h = EvpHasher { lib, ctx };
            let md = match md {
                Md::Md5 => (lib.md5)(),
                Md::Sha512 => (lib.sha512)(),
            };
            if md.is_null() || (lib.init)(h.ctx.as_ptr(), md, std::ptr::null_mut()) != 1 {
                return None; // h's Drop frees the context
            }
            Some(h)
        }
    }

    pub fn update(&mut self, data: &[u8]) -> std::io::Result<()> {
        // SAFETY: the context is live and initialised; data is a valid slice
        let ok = unsafe { (self.lib.update)(self.ctx.as_ptr(), data.as_ptr().cast(), data.len()) };
        if ok == 1 {
            Ok(())
        } else {
            Err(std::io::Error::other("libcrypto: EVP_DigestUpdate failed"))
        }
    }

    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        let mut out = [0u8; MAX_MD_SIZE];
        let mut n: c_uint = 0;
        // SAFETY: out has room for any digest (EVP_MAX_MD_SIZE); the context is live
        let ok = unsafe { (self.lib.finish)(self.ctx.as_ptr(), out.as_mut_ptr(), &mut n) };
        match (ok, n as usize) {
            (1, n) if n <= MAX_MD_SIZE => Ok(out[..n].to_vec()),
            _ => Err(std::io::Error::other("libcrypto: EVP_DigestFinal_ex failed")),
        }
    }
}

impl Drop for EvpHasher {
    fn drop(&mut self) {
        // SAFETY: the context came from EVP_MD_CTX_new and is freed once
        unsafe { (self.lib.ctx_free)(self.ctx.as_ptr()) }
    }
}
