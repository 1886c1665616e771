//! The two digests every upload computes over the image bytes: md5 (the
//! `checksum` field) and sha512 (`os_hash_value`).
//!
//! They are most of an upload's CPU time (each byte is hashed twice), so with
//! the `openssl` feature (default) they come from the system's libcrypto
//! (OpenSSL's EVP, hand-tuned assembly). Measured on the project's build
//! machine (docs/perf/image.md), CPU seconds per GiB: md5 1.42 vs 1.75–1.84
//! for the md-5 crate (its `asm` feature is no faster), sha512 1.24–1.61 vs
//! 1.98–2.52 for the sha2 crate (its `asm` feature is slower). Where
//! libcrypto refuses an algorithm (md5 under a FIPS-only provider), or
//! without the feature, the RustCrypto crates compute it.

use md5::Digest as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha512,
}

/// An incremental digest; [`Hasher::finish_hex`] gives the lowercase hex.
pub struct Hasher(Inner);

enum Inner {
    #[cfg(feature = "openssl")]
    OpenSsl(openssl::hash::Hasher),
    Md5(md5::Md5),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(alg: Algorithm) -> Hasher {
        #[cfg(feature = "openssl")]
        {
            let md = match alg {
                Algorithm::Md5 => openssl::hash::MessageDigest::md5(),
                Algorithm::Sha512 => openssl::hash::MessageDigest::sha512(),
            };
            if let Ok(h) = openssl::hash::Hasher::new(md) {
                return Hasher(Inner::OpenSsl(h));
            }
        }
        Hasher::rust(alg)
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
            #[cfg(feature = "openssl")]
            Inner::OpenSsl(h) => h.update(data).map_err(std::io::Error::other),
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
            #[cfg(feature = "openssl")]
            Inner::OpenSsl(mut h) => h.finish().map(hex::encode).map_err(std::io::Error::other),
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
    fn backends_agree_on_odd_pieces() {
        let data: Vec<u8> = (0u32..3_000_001).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for alg in [Algorithm::Md5, Algorithm::Sha512] {
            let a = digest(Hasher::new(alg), &data, 65_537);
            let b = digest(Hasher::rust(alg), &data, 1 << 20);
            assert_eq!(a, b, "{alg:?}");
        }
    }
}
