"""ddnsd benchmarks: tables with a baseline from the same run; never assertions."""
