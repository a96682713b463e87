// $model_file on iOS with TensorFlow Lite (LiteRT) Swift — minimal example.
// Signature "$signature": input "$input_name" $input_dtype $input_shape, output "$output_name" ($n_labels labels).
// Add $model_file and labels.txt to the app target (Copy Bundle Resources).
import Foundation
import TensorFlowLite

final class ModelRunner {
    private let interpreter: Interpreter
    private let runner: SignatureRunner
    let labels: [String]

    init() throws {
        guard let modelPath = Bundle.main.path(forResource: "$model_stem", ofType: "tflite"),
              let labelsPath = Bundle.main.path(forResource: "labels", ofType: "txt") else {
            throw NSError(domain: "edgelite", code: 1, userInfo: [NSLocalizedDescriptionKey: "$model_file or labels.txt missing from the bundle"])
        }
        var options = Interpreter.Options()
        options.threadCount = 2
        interpreter = try Interpreter(modelPath: modelPath, options: options)
        runner = try interpreter.signatureRunner(with: "$signature")
        labels = try String(contentsOfFile: labelsPath, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// `values`: $swift_input_doc, row-major; NaN = missing. Returns one probability per label.
    func predict(_ values: [Float32], length: Int) throws -> [Float32] {
        try runner.resizeInput(named: "$input_name", toShape: Tensor.Shape($swift_shape))
        let data = values.withUnsafeBufferPointer { Data(buffer: $$0) }
        try runner.invoke(with: ["$input_name": data])  // allocates, copies the input, runs
        let out = try runner.output(named: "$output_name")
        return out.data.withUnsafeBytes { Array($$0.bindMemory(to: Float32.self)) }
    }

    func top(_ values: [Float32], length: Int) throws -> (String, Float32) {
        let p = try predict(values, length: length)
        let i = p.indices.max { p[$$0] < p[$$1] } ?? 0
        return (labels[i], p[i])
    }
}

// Usage: let m = try ModelRunner(); let (label, p) = try m.top(samples, length: $demo_length)
