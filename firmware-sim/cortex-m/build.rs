//! Prepares what the firmware links in: the board's memory map (`memory.x`, chosen by the
//! target: a Cortex-M mps2 board or RISC-V `virt` under QEMU) and the model, test images
//! and labels named by environment variables:
//!
//! - `PICOCNN_FW_WEIGHTS`: a `weights.bin` (checked by `Model::from_bytes` at boot),
//! - `PICOCNN_FW_IMAGES`: an IDX image file of 28x28 images (at least one),
//! - `PICOCNN_FW_LABELS`: the matching IDX label file,
//! - `PICOCNN_FW_FLASH_KIB` (optional): a smaller flash than the board's, to check that a
//!   model which does not fit a given part is refused.
//!
//! Problems are reported as one `cargo::error` line each, never as a panic.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// A QEMU board and its memory map.
struct Board {
    name: &'static str,
    /// Where code and read-only data go.
    flash_origin: u64,
    flash_bytes: u64,
    ram_origin: u64,
    ram_bytes: u64,
    /// The runtime crate's linker script wants the RISC-V region aliases.
    riscv: bool,
}

const MIB: u64 = 1024 * 1024;
const IMAGE_SIDE: u32 = picocnn::shape::IMAGE_SIDE as u32;
const IMAGE_PIXELS: usize = picocnn::shape::IMAGE_PIXELS;
const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

fn main() {
    if let Err(message) = run() {
        println!("cargo::error={message}");
    }
}

fn run() -> Result<(), String> {
    println!("cargo::rerun-if-changed=build.rs");
    let target = env::var("TARGET").map_err(|_| "TARGET is not set".to_string())?;
    // QEMU 7.2 `hw/arm/mps2.c`: 4 MiB of SSRAM at 0x0 used as code memory, 4 MiB at
    // 0x2000_0000 as data memory. `hw/riscv/virt.c`: DRAM at 0x8000_0000 (128 MiB by
    // default), loaded by `-kernel` with `-bios none`; its first 64 MiB stand for flash.
    let mps2 = |name| Board {
        name,
        flash_origin: 0,
        flash_bytes: 4 * MIB,
        ram_origin: 0x2000_0000,
        ram_bytes: 4 * MIB,
        riscv: false,
    };
    let mut board = match target.as_str() {
        "thumbv7em-none-eabihf" => mps2("mps2-an386"),
        "thumbv7m-none-eabi" => mps2("mps2-an385"),
        // Cortex-M0/M0+ code (ARMv6-M is a subset of ARMv7-M) on the Cortex-M3 board: the
        // instructions executed are those an M0 would execute.
        "thumbv6m-none-eabi" => mps2("mps2-an385"),
        "riscv32imc-unknown-none-elf" => Board {
            name: "virt",
            flash_origin: 0x8000_0000,
            flash_bytes: 64 * MIB,
            ram_origin: 0x8400_0000,
            ram_bytes: 4 * MIB,
            riscv: true,
        },
        other => {
            return Err(format!(
                "target {other} has no board: build for thumbv7em-none-eabihf (mps2-an386), \
                 thumbv7m-none-eabi or thumbv6m-none-eabi (mps2-an385), or \
                 riscv32imc-unknown-none-elf (virt)"
            ));
        }
    };
    println!("cargo::rerun-if-env-changed=PICOCNN_FW_FLASH_KIB");
    if let Ok(kib) = env::var("PICOCNN_FW_FLASH_KIB") {
        let kib: u64 = kib
            .parse()
            .map_err(|_| format!("PICOCNN_FW_FLASH_KIB={kib} is not a number of KiB"))?;
        board.flash_bytes = board.flash_bytes.min(kib * 1024);
    }

    let out = PathBuf::from(env::var("OUT_DIR").map_err(|_| "OUT_DIR is not set".to_string())?);
    let weights = read_input("PICOCNN_FW_WEIGHTS")?;
    let (images_path, images) = (
        input_path("PICOCNN_FW_IMAGES")?,
        read_input("PICOCNN_FW_IMAGES")?,
    );
    let pixels = idx_payload(&images_path, &images, IDX_IMAGES_MAGIC, 3)?;
    let count = pixels.len() / IMAGE_PIXELS;
    let labels_path = input_path("PICOCNN_FW_LABELS")?;
    let labels = read_input("PICOCNN_FW_LABELS")?;
    let labels = idx_payload(&labels_path, &labels, IDX_LABELS_MAGIC, 1)?;
    if labels.len() != count {
        return Err(format!(
            "{} holds {} labels but the images file holds {count} images",
            labels_path.display(),
            labels.len()
        ));
    }

    let linked = (weights.len() + pixels.len() + labels.len()) as u64;
    if linked > board.flash_bytes {
        return Err(format!(
            "model and test images ({linked} bytes: weights {} + images {}) do not fit {} flash ({} bytes)",
            weights.len(),
            pixels.len() + labels.len(),
            board.name,
            board.flash_bytes
        ));
    }

    // The weights are checked here too, so that a file the core rejects fails the build
    // with the core's reason rather than the firmware at boot.
    picocnn::Model::from_bytes(&weights).map_err(|e| {
        format!(
            "PICOCNN_FW_WEIGHTS: the core rejects {}: {e}",
            input_path("PICOCNN_FW_WEIGHTS")
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    })?;
    write(&out.join("weights.bin"), &weights)?;
    write(&out.join("images.bin"), pixels)?;
    write(&out.join("labels.bin"), labels)?;
    let mut memory = format!(
        "/* {} (generated by build.rs) */\nMEMORY\n{{\n  FLASH : ORIGIN = {:#010x}, LENGTH = {}\n  RAM : ORIGIN = {:#010x}, LENGTH = {}\n}}\n",
        board.name, board.flash_origin, board.flash_bytes, board.ram_origin, board.ram_bytes
    );
    if board.riscv {
        for (region, memory_name) in [
            ("TEXT", "FLASH"),
            ("RODATA", "FLASH"),
            ("DATA", "RAM"),
            ("BSS", "RAM"),
            ("HEAP", "RAM"),
            ("STACK", "RAM"),
        ] {
            memory.push_str(&format!(
                "REGION_ALIAS(\"REGION_{region}\", {memory_name});\n"
            ));
        }
    }
    write(&out.join("memory.x"), memory.as_bytes())?;
    println!("cargo::rustc-link-search={}", out.display());
    if board.riscv {
        // riscv-rt's link.x does not include memory.x itself.
        println!("cargo::rustc-link-arg=-Tmemory.x");
    }
    // Every linked target: the firmware, panic-free and the examples.
    println!("cargo::rustc-link-arg=-Tlink.x");
    println!("cargo::rustc-env=PICOCNN_FW_BOARD={}", board.name);
    Ok(())
}

fn input_path(var: &str) -> Result<PathBuf, String> {
    println!("cargo::rerun-if-env-changed={var}");
    let path = env::var_os(var).ok_or_else(|| {
        format!("{var} is not set: name the file to link in (scripts/firmware-check.sh does)")
    })?;
    let path = PathBuf::from(path);
    println!("cargo::rerun-if-changed={}", path.display());
    Ok(path)
}

fn read_input(var: &str) -> Result<Vec<u8>, String> {
    let path = input_path(var)?;
    fs::read(&path).map_err(|e| format!("{var}: cannot read {}: {e}", path.display()))
}

/// Checks an IDX header (magic, dimensions, length) and returns the data after it.
fn idx_payload<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    dims: usize,
) -> Result<&'a [u8], String> {
    let header_len = 4 + 4 * dims;
    let bad = |what: &str| format!("{}: not an IDX {what}", path.display());
    let word = |i: usize| -> Option<u32> {
        let b = bytes.get(4 * i..4 * i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let kind = if dims == 3 {
        "image file"
    } else {
        "label file"
    };
    if word(0) != Some(magic) {
        return Err(bad(kind));
    }
    let count = word(1).ok_or_else(|| bad(kind))? as usize;
    if dims == 3 && (word(2) != Some(IMAGE_SIDE) || word(3) != Some(IMAGE_SIDE)) {
        return Err(format!("{}: images are not 28x28", path.display()));
    }
    let item = if dims == 3 { IMAGE_PIXELS } else { 1 };
    let payload = &bytes[header_len.min(bytes.len())..];
    if count == 0 || payload.len() != count * item {
        return Err(format!(
            "{}: header says {count} items of {item} bytes, the file holds {} bytes after the header",
            path.display(),
            payload.len()
        ));
    }
    Ok(payload)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    // Rewriting identical bytes would make cargo relink for nothing.
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
