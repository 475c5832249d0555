//! The functions' allocator, which `gate_lambdas` sets for every binary that
//! links it (this test binary too): mimalloc, and it must not ask the kernel
//! for transparent huge pages. With `MADV_HUGEPAGE` on its arena, every
//! first touch of a 2 MiB region costs a 2 MiB zeroing: a third of decide's
//! cold start and 7 MB of resident memory per invocation.

/// One mapping of /proc/self/smaps (proc(5)).
#[cfg(target_os = "linux")]
#[derive(Debug)]
struct Mapping {
    header: String,
    start: usize,
    end: usize,
    /// `VmFlags` carries `hg`: the mark `MADV_HUGEPAGE` leaves.
    huge_pages_advised: bool,
}

#[cfg(target_os = "linux")]
fn mappings() -> Vec<Mapping> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut mappings: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if let Some(last) = mappings.last_mut() {
                last.huge_pages_advised = flags.split_whitespace().any(|flag| flag == "hg");
            }
            continue;
        }
        // A mapping's header line starts with its address range: `start-end`.
        let range = line.split_once(' ').and_then(|(range, _)| range.split_once('-'));
        if let Some((Ok(start), Ok(end))) =
            range.map(|(start, end)| (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)))
        {
            mappings.push(Mapping { header: line.to_owned(), start, end, huge_pages_advised: false });
        }
    }
    mappings
}

#[cfg(target_os = "linux")]
#[test]
fn the_allocator_is_mimalloc_and_asks_for_no_transparent_huge_pages() {
    // Enough that the allocator has reserved and touched its arena.
    let blocks: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
    let block = blocks[0].as_ptr() as usize;
    let mappings = mappings();

    // glibc serves a 64 KiB block from its heap or a 64 MiB thread arena;
    // mimalloc from the 1 GiB arena it reserves.
    let home = mappings.iter().find(|m| (m.start..m.end).contains(&block)).expect("the block is mapped");
    assert!(home.end - home.start >= 1 << 30, "the block is not in mimalloc's arena: {}", home.header);

    let advised: Vec<&str> =
        mappings.iter().filter(|m| m.huge_pages_advised).map(|m| m.header.as_str()).collect();
    assert!(advised.is_empty(), "mappings advised MADV_HUGEPAGE: {advised:#?}");
    std::hint::black_box(&blocks);
}
