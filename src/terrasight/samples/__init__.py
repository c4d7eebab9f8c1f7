"""Sample data: the shipped demo pair and the simulators of changes, series and RGB pairs
used by the demo, the tests, training and the benchmarks."""
