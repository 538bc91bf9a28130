/// mimalloc rather than the system allocator: the judgement builds and drops
/// many small rows at every change, and the poller's tasks allocate on two
/// threads at once (docs/measurements.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flightdeck::cli::main()
}
