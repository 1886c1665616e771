//! The two digests every upload computes over the image bytes: md5 (the
//! `checksum` field) and sha512 (`os_hash_value`).
//!
//! They are most of an upload's CPU time (each byte is hashed twice), so they
//! come from the system's libcrypto (OpenSSL's EVP, hand-tuned assembly),
//! loaded at run time (src/libcrypto.rs). Measured on the project's build
//! machine (docs/perf/image.md), CPU seconds per GiB: md5 1.42 vs 1.75–1.84
//! for the md-5 crate (its `asm` feature is no faster), sha512 1.24–1.61 vs
//! 1.98–2.52 for the sha2 crate (its `asm` feature is slower). Where
//! libcrypto is absent or refuses an algorithm (md5 under a FIPS-only
//! provider), the RustCrypto crates compute it.

use md5::Digest as _;

use crate::libcrypto::{EvpHasher, Md};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha512,
}

/// An incremental digest; [`Hasher::finish_hex`] gives the lowercase hex.
pub struct Hasher(Inner);

enum Inner {
    Evp(EvpHasher),
    Md5(md5::Md5),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(alg: Algorithm) -> Hasher {
        let md = match alg {
            Algorithm::Md5 => Md::Md5,
            Algorithm::Sha512 => Md::Sha512,
        };
        match EvpHasher::new(md) {
            Some(h) => Hasher(Inner::Evp(h)),
            None => Hasher::rust(alg),
        }
    }

    /// Whether libcrypto computes this digest.
    #[cfg(test)]
    pub fn is_libcrypto(&self) -> bool {
        matches!(self.0, Inner::Evp(_))
    }

    /// The RustCrypto implementation, whatever the features.
    pub fn rust(alg: Algorithm) -> Hasher {
        Hasher(match alg {
            Algorithm::Md5 => Inner::Md5(md5::Md5::new()),
            Algorithm::Sha512 => Inner::Sha512(sha2::Sha512::new()),
        })
    }

    pub fn update(&mut self, data: &[u8]) -> std::io::Result<()> {
        match &mut self.0 {
            Inner::Evp(h) => h.update(data),
            Inner::Md5(h) => {
                h.update(data);
                Ok(())
            }
            Inner::Sha512(h) => {
                h.update(data);
                Ok(())
            }
        }
    }

    pub fn finish_hex(self) -> std::io::Result<String> {
        match self.0 {
            Inner::Evp(h) => h.finish().map(hex::encode),
            Inner::Md5(h) => Ok(hex::encode(h.finalize())),
            Inner::Sha512(h) => Ok(hex::encode(h.finalize())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(mut h: Hasher, data: &[u8], piece: usize) -> String {
        for p in data.chunks(piece) {
            h.update(p).unwrap();
        }
        h.finish_hex().unwrap()
    }

    #[test]
    fn known_answers() {
        // RFC 1321 and FIPS 180-2 test vectors for "abc"
        for h in [Hasher::new(Algorithm::Md5), Hasher::rust(Algorithm::Md5)] {
            assert_eq!(digest(h, b"abc", 1), "900150983cd24fb0d6963f7d28e17f72");
        }
        let sha = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                   2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
        for h in [Hasher::new(Algorithm::Sha512), Hasher::rust(Algorithm::Sha512)] {
            assert_eq!(digest(h, b"abc", 2), sha);
        }
        assert_eq!(digest(Hasher::new(Algorithm::Md5), b"", 1), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn libcrypto_is_used_where_installed() {
        // this project's machines have libssl3 (curl needs it): check the fast
        // path really runs there, not only the fallback
        if std::path::Path::new("/usr/lib/x86_64-linux-gnu/libcrypto.so.3").exists() {
            assert!(Hasher::new(Algorithm::Md5).is_libcrypto());
            assert!(Hasher::new(Algorithm::Sha512).is_libcrypto());
        }
        assert!(!Hasher::rust(Algorithm::Md5).is_libcrypto());
    }

    #[test]
    fn backends_agree_on_odd_pieces() {
        let data: Vec<u8> = (0u32..3_000_001).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for alg in [Algorithm::Md5, Algorithm::Sha512] {
            let a = digest(Hasher::new(alg), &data, 65_537);
            let b = digest(Hasher::rust(alg), &data, 1 << 20);
            assert_eq!(a, b, "{alg:?}");
        }
    }
}
