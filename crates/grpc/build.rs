// Compiles proto/warden/v1/*.proto and the Envoy ext_authz subset under
// proto/envoy/ with protox (a pure-Rust protobuf compiler), so building
// needs no protoc. The encoded descriptor sets are kept for server
// reflection and the proto lint test.
use std::path::{Path, PathBuf};

const WARDEN_PROTOS: &[&str] = &["warden/v1/auth.proto", "warden/v1/admin.proto"];
const ENVOY_PROTOS: &[&str] = &["envoy/service/auth/v3/external_auth.proto"];

fn compile(
    root: &Path,
    out: &Path,
    protos: &[&str],
    descriptor_file: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<PathBuf> = protos.iter().map(|p| root.join(p)).collect();
    let descriptors = protox::compile(&files, [root])?;
    std::fs::write(
        out.join(descriptor_file),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        .codec_path("crate::codec::WardenCodec")
        .compile_fds(descriptors)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    // Name build.rs too: with any rerun-if-changed line, cargo otherwise
    // keeps the old generated code when only this script changes.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", root.display());
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    compile(&root, &out, WARDEN_PROTOS, "warden_v1_descriptor.bin")?;
    compile(&root, &out, ENVOY_PROTOS, "envoy_ext_authz_descriptor.bin")?;
    Ok(())
}
