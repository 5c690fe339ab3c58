//! What a process used, read from Linux's `/proc`: one reading for the bench and the memory
//! tests.

/// The peak resident memory of `process` (`"self"` or a pid), KiB: `VmHWM`, the high-water
/// mark of the process's own address space. `None` where there is no `/proc` (not Linux) or
/// the process is gone.
pub fn peak_rss_kb(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_peak() {
        if cfg!(target_os = "linux") {
            assert!(super::peak_rss_kb("self").is_some_and(|kb| kb > 0));
        }
    }
}
