//! Disk format inspection while the bytes stream by: the data must be what its
//! `disk_format` says, and a qcow2 that points at another file (a backing
//! file or an external data file: the class of advisories where a crafted
//! image makes the host read its own files), a differencing VHD or a VMDK
//! whose extents live elsewhere is refused. Also reads the virtual size from
//! the header.
//!
//! Only the first [`HEAD`] bytes and the last 512 (a fixed VHD's footer) are
//! kept in memory.

use rustack_common::Error;

/// How much of the start of an image the inspector keeps (an ISO 9660
/// descriptor sits at 32 KiB; a VMDK descriptor in its first sectors).
pub const HEAD: usize = 64 * 1024;
const TAIL: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    Raw,
    Qcow2,
    Vhd,
    Vhdx,
    Vmdk,
    VmdkDescriptor,
    Vdi,
    Ploop,
    Iso,
}

impl Detected {
    fn name(self) -> &'static str {
        match self {
            Detected::Raw => "raw",
            Detected::Qcow2 => "qcow2",
            Detected::Vhd => "vhd",
            Detected::Vhdx => "vhdx",
            Detected::Vmdk | Detected::VmdkDescriptor => "vmdk",
            Detected::Vdi => "vdi",
            Detected::Ploop => "ploop",
            Detected::Iso => "iso",
        }
    }
}

/// Watches an upload of an image declared as `disk_format`.
pub struct Inspector {
    disk_format: String,
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    checked: bool,
}

impl Inspector {
    pub fn new(disk_format: &str) -> Inspector {
        Inspector { disk_format: disk_format.to_string(), head: Vec::new(), tail: Vec::new(), total: 0, checked: false }
    }

    /// Feeds the next bytes; an error as soon as the head proves the data
    /// wrong (the upload stops there).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.total += chunk.len() as u64;
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if chunk.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(chunk);
            if self.tail.len() > TAIL {
                self.tail.drain(..self.tail.len() - TAIL);
            }
        }
        if !self.checked && self.head.len() >= HEAD {
            self.checked = true;
            self.check_head()?;
        }
        Ok(())
    }

    /// At the end of the data: the last checks and the virtual size.
    pub fn finish(&mut self) -> Result<Option<i64>, Error> {
        if !self.checked {
            self.checked = true;
            self.check_head()?;
        }
        let detected = self.detect_all();
        // a fixed VHD is known by its footer only
        if self.disk_format == "vhd" && detected != Detected::Vhd {
            return Err(mismatch(&self.disk_format, detected));
        }
        Ok(match detected {
            Detected::Raw | Detected::Iso => Some(self.total as i64),
            Detected::Qcow2 => be64(&self.head, 24).map(|v| v as i64),
            Detected::Vhd => {
                let footer = if self.head.starts_with(b"conectix") { &self.head } else { &self.tail };
                be64(footer, 48).map(|v| v as i64)
            }
            Detected::Vmdk => le64(&self.head, 12).map(|v| v.saturating_mul(512) as i64),
            Detected::Vdi => le64(&self.head, 0x170).map(|v| v as i64),
            Detected::Vhdx | Detected::Ploop | Detected::VmdkDescriptor => None,
        })
    }

    fn detect_all(&self) -> Detected {
        match detect(&self.head) {
            Detected::Raw if self.total >= TAIL as u64 && self.tail.starts_with(b"conectix") => Detected::Vhd,
            d => d,
        }
    }

    fn check_head(&self) -> Result<(), Error> {
        let detected = detect(&self.head);
        let f = self.disk_format.as_str();
        let ok = match f {
            // raw-like formats take anything that is not another disk format
            "raw" | "ami" | "ari" | "aki" => matches!(detected, Detected::Raw | Detected::Iso),
            // a fixed VHD is told by its footer, checked in finish()
            "vhd" => matches!(detected, Detected::Vhd | Detected::Raw),
            "vmdk" => matches!(detected, Detected::Vmdk | Detected::VmdkDescriptor),
            _ => detected.name() == f,
        };
        if !ok {
            return Err(mismatch(f, detected));
        }
        match detected {
            Detected::Qcow2 => check_qcow2(&self.head),
            Detected::Vhd => check_vhd(&self.head),
            Detected::Vmdk => check_vmdk(&self.head),
            Detected::VmdkDescriptor => Err(unsafe_image("a VMDK descriptor without its data refers to other files")),
            _ => Ok(()),
        }
    }
}

fn mismatch(declared: &str, detected: Detected) -> Error {
    Error::bad_request(format!(
        "Image content does not match disk_format: declared {declared}, the data is {}",
        detected.name()
    ))
}

fn unsafe_image(why: &str) -> Error {
    Error::bad_request(format!("Image disallowed by the format safety check: {why}"))
}

fn detect(h: &[u8]) -> Detected {
    if h.starts_with(b"QFI\xfb") {
        Detected::Qcow2
    } else if h.starts_with(b"vhdxfile") {
        Detected::Vhdx
    } else if h.starts_with(b"conectix") {
        Detected::Vhd
    } else if h.starts_with(b"KDMV") {
        Detected::Vmdk
    } else if h.starts_with(b"# Disk DescriptorFile") {
        Detected::VmdkDescriptor
    } else if le32(h, 0x40) == Some(0xbeda_107f) {
        Detected::Vdi
    } else if h.starts_with(b"WithoutFreeSpace") || h.starts_with(b"WithouFreSpacExt") {
        Detected::Ploop
    } else if [0x8001usize, 0x8801, 0x9001].iter().any(|o| h.get(*o..*o + 5) == Some(b"CD001")) {
        Detected::Iso
    } else {
        Detected::Raw
    }
}

fn check_qcow2(h: &[u8]) -> Result<(), Error> {
    let version = be32(h, 4).ok_or_else(|| unsafe_image("truncated qcow2 header"))?;
    if version != 2 && version != 3 {
        return Err(unsafe_image(&format!("unsupported qcow2 version {version}")));
    }
    let backing = be64(h, 8).ok_or_else(|| unsafe_image("truncated qcow2 header"))?;
    if backing != 0 {
        return Err(unsafe_image("qcow2 images with a backing file are not allowed"));
    }
    if version == 3 {
        let incompatible = be64(h, 72).ok_or_else(|| unsafe_image("truncated qcow2 header"))?;
        if incompatible & (1 << 2) != 0 {
            return Err(unsafe_image("qcow2 images with an external data file are not allowed"));
        }
    }
    Ok(())
}

fn check_vhd(h: &[u8]) -> Result<(), Error> {
    // a dynamic or differencing VHD starts with a copy of its footer; type 4 has a parent
    if h.starts_with(b"conectix") && be32(h, 60) == Some(4) {
        return Err(unsafe_image("differencing VHD images (with a parent) are not allowed"));
    }
    Ok(())
}

fn check_vmdk(h: &[u8]) -> Result<(), Error> {
    // the embedded descriptor names the create type; only self-contained ones
    let (Some(off), Some(len)) = (le64(h, 28), le64(h, 36)) else {
        return Err(unsafe_image("truncated VMDK header"));
    };
    let (start, end) = ((off as usize).saturating_mul(512), (off.saturating_add(len) as usize).saturating_mul(512));
    if off == 0 || len == 0 {
        return Ok(()); // streamOptimized images may carry no embedded descriptor here
    }
    let Some(desc) = h.get(start..end.min(h.len())).filter(|d| !d.is_empty()) else {
        return Err(unsafe_image("the VMDK descriptor lies beyond the inspected header"));
    };
    let text = String::from_utf8_lossy(desc);
    let create_type = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("createType").map(|r| r.trim_start_matches([' ', '=']).trim_matches('"')))
        .unwrap_or("");
    if create_type != "monolithicSparse" && create_type != "streamOptimized" {
        return Err(unsafe_image(&format!("VMDK create type '{create_type}' is not allowed")));
    }
    Ok(())
}

fn be32(h: &[u8], o: usize) -> Option<u32> {
    h.get(o..o + 4).map(|b| u32::from_be_bytes(b.try_into().unwrap_or([0; 4])))
}
fn be64(h: &[u8], o: usize) -> Option<u64> {
    h.get(o..o + 8).map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
}
fn le32(h: &[u8], o: usize) -> Option<u32> {
    h.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
}
fn le64(h: &[u8], o: usize) -> Option<u64> {
    h.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
}

/// A minimal qcow2 header (for tests and tools): version 3, `size` bytes
/// virtual, optionally with a backing file offset or the external data file bit.
pub fn qcow2_header(size: u64, backing_offset: u64, external_data: bool) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[0..4].copy_from_slice(b"QFI\xfb");
    h[4..8].copy_from_slice(&3u32.to_be_bytes());
    h[8..16].copy_from_slice(&backing_offset.to_be_bytes());
    h[20..24].copy_from_slice(&16u32.to_be_bytes()); // cluster bits
    h[24..32].copy_from_slice(&size.to_be_bytes());
    if external_data {
        h[72..80].copy_from_slice(&(1u64 << 2).to_be_bytes());
    }
    h[100..104].copy_from_slice(&104u32.to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(fmt: &str, data: &[u8]) -> Result<Option<i64>, Error> {
        let mut i = Inspector::new(fmt);
        for c in data.chunks(1000) {
            i.feed(c)?;
        }
        i.finish()
    }

    #[test]
    fn qcow2_is_checked_and_sized() {
        assert_eq!(inspect("qcow2", &qcow2_header(1 << 30, 0, false)).unwrap(), Some(1 << 30));
        let e = inspect("qcow2", &qcow2_header(1 << 30, 0x200, false)).unwrap_err();
        assert!(e.message.contains("backing file"), "{}", e.message);
        let e = inspect("qcow2", &qcow2_header(1 << 30, 0, true)).unwrap_err();
        assert!(e.message.contains("external data file"), "{}", e.message);
        assert!(inspect("qcow2", &[0u8; 5000]).is_err(), "zeros are no qcow2");
        assert!(inspect("raw", &qcow2_header(1, 0, false)).is_err(), "a qcow2 declared raw");
    }

    #[test]
    fn raw_takes_anything_but_other_formats() {
        assert_eq!(inspect("raw", b"hello").unwrap(), Some(5));
        assert_eq!(inspect("ami", &[7u8; 70000]).unwrap(), Some(70000));
        let mut vmdk = vec![0u8; 1024];
        vmdk[..4].copy_from_slice(b"KDMV");
        assert!(inspect("raw", &vmdk).is_err());
    }

    #[test]
    fn vhd_iso_vdi_vmdk() {
        // a fixed VHD: data then a footer
        let mut vhd = vec![0u8; 4096];
        let mut footer = vec![0u8; 512];
        footer[..8].copy_from_slice(b"conectix");
        footer[48..56].copy_from_slice(&4096u64.to_be_bytes());
        footer[60..64].copy_from_slice(&2u32.to_be_bytes());
        vhd.extend_from_slice(&footer);
        assert_eq!(inspect("vhd", &vhd).unwrap(), Some(4096));
        assert!(inspect("vhd", &[1u8; 4096]).is_err(), "no footer");
        let mut diff = footer.clone();
        diff[60..64].copy_from_slice(&4u32.to_be_bytes());
        diff.extend_from_slice(&[0u8; 1024]);
        assert!(inspect("vhd", &diff).is_err(), "differencing");

        let mut iso = vec![0u8; 40000];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(inspect("iso", &iso).unwrap(), Some(40000));
        assert!(inspect("iso", &[0u8; 40000]).is_err());

        let mut vdi = vec![0u8; 1024];
        vdi[0x40..0x44].copy_from_slice(&0xbeda_107fu32.to_le_bytes());
        vdi[0x170..0x178].copy_from_slice(&(8u64 << 20).to_le_bytes());
        assert_eq!(inspect("vdi", &vdi).unwrap(), Some(8 << 20));

        let mut vmdk = vec![0u8; 4096];
        vmdk[..4].copy_from_slice(b"KDMV");
        vmdk[12..20].copy_from_slice(&2048u64.to_le_bytes());
        vmdk[28..36].copy_from_slice(&1u64.to_le_bytes());
        vmdk[36..44].copy_from_slice(&1u64.to_le_bytes());
        let desc = b"# Disk DescriptorFile\ncreateType=\"monolithicSparse\"\n";
        vmdk[512..512 + desc.len()].copy_from_slice(desc);
        assert_eq!(inspect("vmdk", &vmdk).unwrap(), Some(2048 * 512));
        let flat = b"# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n";
        vmdk[512..512 + flat.len()].copy_from_slice(flat);
        assert!(inspect("vmdk", &vmdk).is_err(), "flat extents live elsewhere");
        assert!(inspect("vmdk", b"# Disk DescriptorFile\nRW 1 FLAT \"/etc/shadow\" 0\n").is_err());
    }
}
