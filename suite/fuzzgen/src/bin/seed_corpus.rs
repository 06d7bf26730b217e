//! Writes the seed corpora of the fuzz targets from the case catalogue, and the dictionary.
//!
//! Usage: `cargo run -p qoauth-fuzzgen --bin seed-corpus [-- --root DIR]`, where DIR is the
//! repository root (default: this crate's checkout). Reads `cases/` and
//! `suite/reference/fixtures/`; writes `fuzz/corpus/<target>/` and `fuzz/dict/oauth.dict`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use qoauth_fuzzgen::corpus;

fn main() -> Result<()> {
    let mut root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = PathBuf::from(args.next().context("--root needs a directory")?),
            "-h" | "--help" => {
                println!("seed-corpus [--root REPO]: writes fuzz/corpus/<target>/ and fuzz/dict/oauth.dict from cases/");
                return Ok(());
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    let seeds =
        corpus::seeds_from_catalogue(&root.join("cases"), &root.join("suite/reference/fixtures"))?;
    let counts = corpus::write_seeds(&root.join("fuzz/corpus"), &seeds)?;
    for (target, count) in &counts {
        println!("{target}: {count} seeds");
    }
    let dict = root.join("fuzz/dict/oauth.dict");
    std::fs::create_dir_all(dict.parent().expect("dict path has a parent"))?;
    std::fs::write(&dict, corpus::dictionary())
        .with_context(|| format!("writing {}", dict.display()))?;
    println!("dictionary: {}", dict.display());
    Ok(())
}
