//! Without liblttng-ust-ctl.so.5 the buffer layer reports which package to
//! install. This binary never loads the real library, so the process-wide
//! cache cannot hide the failure.

use ustd::ustctl::{UstCtl, UstCtlError, LIB_ENV, PACKAGE};

#[test]
fn missing_library_names_the_package() {
    std::env::set_var(LIB_ENV, "/nonexistent/liblttng-ust-ctl.so.5");
    let err = UstCtl::load().expect_err("the library path does not exist");
    match &err {
        UstCtlError::LibMissing { package, path, .. } => {
            assert_eq!(*package, "liblttng-ust-ctl5");
            assert_eq!(path, "/nonexistent/liblttng-ust-ctl.so.5");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains(PACKAGE), "{err}");
    // Failures are not cached: the next attempt tries again.
    assert!(matches!(
        UstCtl::load(),
        Err(UstCtlError::LibMissing { .. })
    ));
}
