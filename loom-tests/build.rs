include!("mutant_cfg.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=mutant_cfg.rs");
    emit_mutant_cfg();
}
