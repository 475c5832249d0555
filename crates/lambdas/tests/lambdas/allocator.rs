//! The functions' allocator, as the bins declare it: it must not ask the
//! kernel for transparent huge pages. With `MADV_HUGEPAGE` on its arena,
//! every first touch of a 2 MiB region costs a 2 MiB zeroing: a third of
//! decide's cold start and 7 MB of resident memory per invocation.

/// The mappings whose `VmFlags` carry `hg`, the mark `MADV_HUGEPAGE` leaves
/// (proc(5), /proc/pid/smaps).
#[cfg(target_os = "linux")]
fn huge_page_advised_mappings() -> Vec<String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut mapping = "";
    let mut advised = Vec::new();
    for line in smaps.lines() {
        match line.strip_prefix("VmFlags:") {
            Some(flags) if flags.split_whitespace().any(|flag| flag == "hg") => {
                advised.push(mapping.to_owned());
            }
            Some(_) => {}
            // A mapping's header line starts with its address range.
            None if line.split_once(' ').is_some_and(|(range, _)| range.contains('-')) => {
                mapping = line;
            }
            None => {}
        }
    }
    advised
}

#[cfg(target_os = "linux")]
#[test]
fn the_allocator_asks_for_no_transparent_huge_pages() {
    // Enough that the allocator has reserved and touched its arena.
    let blocks: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
    std::hint::black_box(&blocks);

    let advised = huge_page_advised_mappings();
    assert!(advised.is_empty(), "mappings advised MADV_HUGEPAGE: {advised:#?}");
}
