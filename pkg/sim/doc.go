// Package sim is a deterministic temperature simulator.
//
// A [Simulator] turns a [Config] (sensor ID, range, [Model], seed) into a
// reproducible sequence of [Reading] values: two simulators built from the
// same Config return the same Celsius values for the same sequence of calls.
// Every value is rounded half away from zero to two decimals and lies within
// [Min, Max].
//
// Concurrency: Config, Model and Reading are plain values and safe to copy
// and share. A Simulator holds mutable random state and is not safe for
// concurrent use; exactly one goroutine may call [Simulator.Next] or
// [Simulator.Run] at a time. Run starts no goroutines of its own: the caller
// owns the goroutine that calls it and decides when it stops, via its
// context or by closing the tick channel.
package sim
