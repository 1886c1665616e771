//! A small operator's tool over a Vmm root, and a demonstration that VMs
//! outlive the process that started them:
//!
//! ```text
//! vmctl ROOT spawn ID [disk|kernel]   # boots the test image, then exits
//! vmctl ROOT list                     # adopts and prints every instance's state
//! vmctl ROOT console ID               # the last 4 KiB of the serial log
//! vmctl ROOT stop ID                  # ACPI power-off (60 s), then kill
//! vmctl ROOT destroy ID
//! ```

use std::path::PathBuf;
use std::time::Duration;

use rustack_qemu::{kvm, Accel, DiskFormat, KernelBoot, RootDisk, VmSpec, Vmm};

fn usage() -> ! {
    eprintln!("usage: vmctl ROOT (spawn ID [disk|kernel] | list | console ID | stop ID | destroy ID)");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        usage();
    }
    let vmm = Vmm::new(PathBuf::from(&args[0]))?;
    vmm.adopt_all().await?;
    let id = || args.get(2).cloned().unwrap_or_else(|| usage());
    match args[1].as_str() {
        "spawn" => {
            let img = kvm::default_probe_kernel()
                .and_then(|k| k.parent().map(|p| p.to_path_buf()))
                .ok_or("test image missing: run scripts/build-test-image.sh")?;
            let kernel = (args.get(3).map(String::as_str) == Some("kernel")).then(|| KernelBoot {
                kernel: img.join("vmlinux"),
                initrd: Some(img.join("initramfs.cpio.gz")),
                cmdline: "console=tty0 console=ttyS0 panic=-1 quiet rustack.dhcp_wait=1 rustack.metadata_tries=1"
                    .into(),
            });
            let spec = VmSpec {
                id: id(),
                name: id(),
                vcpus: 1,
                memory_mib: 128,
                root_disk: RootDisk {
                    base: img.join("disk.qcow2"),
                    base_format: DiskFormat::Qcow2,
                    size_bytes: 1 << 30,
                },
                kernel,
                nics: vec![],
                config_drive: None,
                spare_pcie_ports: 1,
                accel: Accel::Tcg,
                vnc: true,
            };
            vmm.spawn(spec).await?;
            println!("{} spawned, pid {:?}", id(), vmm.pid(&id())?);
        }
        "list" => {
            for i in vmm.instances() {
                println!("{i} {} pid={:?}", vmm.power_state(&i).await?, vmm.pid(&i)?);
            }
        }
        "console" => print!("{}", vmm.console_log(&id(), 4096)?),
        "stop" => vmm.stop(&id(), Duration::from_secs(60)).await?,
        "destroy" => vmm.destroy(&id()).await?,
        _ => usage(),
    }
    Ok(())
}
