//! Finding headless Chromium for the browser tests.

use std::path::PathBuf;

/// `$CHROMIUM`, `/usr/bin/chromium` or `/usr/bin/chromium-browser`, whichever exists; `None`
/// (after saying which test is skipped) when none does, unless `SCENARIOS_REQUIRE_CHROMIUM`
/// is set (CI sets it after installing chromium): then it panics.
pub fn find(test: &str) -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("SCENARIOS_REQUIRE_CHROMIUM").is_none(),
            "SCENARIOS_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("chromium not installed: {test} skipped");
    }
    found
}
