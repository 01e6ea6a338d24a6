import Foundation

/// The measurements the verification makes on one channel of a recording (samples in -1...1).
enum SignalAnalysis {
    /// Power of the sine at `frequency` in `samples` (A²/2 for a tone of amplitude A), by the
    /// Goertzel algorithm: one DFT bin without a full FFT. Exact when the block holds a whole
    /// number of cycles, as the 100 ms blocks used here do for 400, 1000 and 1700 Hz.
    static func tonePower(_ samples: ArraySlice<Float>, frequency: Double, sampleRate: Int) -> Double {
        let coefficient = 2 * cos(2 * Double.pi * frequency / Double(sampleRate))
        var previous = 0.0
        var beforePrevious = 0.0
        for sample in samples {
            let current = Double(sample) + coefficient * previous - beforePrevious
            beforePrevious = previous
            previous = current
        }
        let magnitudeSquared = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious
        let count = Double(samples.count)
        return 2 * magnitudeSquared / (count * count)
    }

    static func meanSquare(_ samples: ArraySlice<Float>) -> Double {
        guard !samples.isEmpty else { return 0 }
        var sum = 0.0
        for sample in samples { sum += Double(sample) * Double(sample) }
        return sum / Double(samples.count)
    }

    /// Below this RMS (-40 dBFS) a block counts as silent; the tones are sent at -12 dBFS.
    static let silenceRMS = 0.01

    struct ToneMeasurement {
        /// Blocks of steady signal measured (loud, and so are both neighbours: away from gaps
        /// and edges).
        var steadyBlocks = 0
        var blocks = 0
        /// Mean power of the steady blocks.
        var totalPower = 0.0
        /// Mean tone power at each frequency asked for, over the steady blocks.
        var tonePower: [Double: Double] = [:]
    }

    /// Tone powers over 100 ms blocks of `samples[range]`.
    static func measureTones(_ samples: [Float], range: Range<Int>, frequencies: [Double], sampleRate: Int) -> ToneMeasurement {
        let block = sampleRate / 10
        var measurement = ToneMeasurement()
        let starts = Array(stride(from: range.lowerBound, through: range.upperBound - block, by: block))
        let loud = starts.map { meanSquare(samples[$0..<($0 + block)]) >= silenceRMS * silenceRMS }
        measurement.blocks = starts.count
        for (index, start) in starts.enumerated() where loud[index] {
            guard index > 0, index + 1 < starts.count, loud[index - 1], loud[index + 1] else { continue }
            let slice = samples[start..<(start + block)]
            measurement.steadyBlocks += 1
            measurement.totalPower += meanSquare(slice)
            for frequency in frequencies {
                measurement.tonePower[frequency, default: 0] += tonePower(slice, frequency: frequency, sampleRate: sampleRate)
            }
        }
        if measurement.steadyBlocks > 0 {
            let count = Double(measurement.steadyBlocks)
            measurement.totalPower /= count
            for key in measurement.tonePower.keys { measurement.tonePower[key]! /= count }
        }
        return measurement
    }

    /// The sample where the first alignment gap starts: the first drop of the 5 ms RMS to under
    /// a tenth of the signal's level, after at least 50 ms of full level, lasting at least
    /// 150 ms (the gaps are 200 ms; a lost packet or two is shorter). Refined to the sample after
    /// the last one of the tone before the drop. Nil when there is no such drop.
    static func firstGapOnset(_ samples: [Float], sampleRate: Int) -> Int? {
        let window = max(1, sampleRate / 200)
        let windows = samples.count / window
        guard windows > 60 else { return nil }
        let rms = (0..<windows).map { sqrt(meanSquare(samples[($0 * window)..<(($0 + 1) * window)])) }
        let loudWindows = rms.filter { $0 >= silenceRMS }.sorted()
        guard !loudWindows.isEmpty else { return nil }
        let level = loudWindows[loudWindows.count / 2]  // median: the tone's level
        let quiet = level * 0.1
        let full = level * 0.5
        let before = 10
        let after = 30
        var index = before + 1
        while index + after <= windows {
            if rms[index] < quiet,
               rms[(index - before - 1)..<(index - 1)].allSatisfy({ $0 >= full }),
               rms[index..<(index + after)].allSatisfy({ $0 < quiet }) {
                // The onset lies in the window before the quiet one (or at its start): the
                // sample after the last one still near the tone's amplitude.
                let threshold = Float(level * 2.squareRoot() * 0.3)
                var onset = index * window
                for sample in stride(from: index * window - 1, through: (index - 1) * window, by: -1) where abs(samples[sample]) >= threshold {
                    onset = sample + 1
                    break
                }
                return onset
            }
            index += 1
        }
        return nil
    }
}
