// $model_file on Android with LiteRT (TensorFlow Lite) — minimal example.
// Signature "$signature": input "$input_name" $input_dtype $input_shape, output "$output_name" ($n_labels labels).
// Put $model_file and labels.txt in app/src/main/assets/.
package $package

import android.content.Context
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

class ModelRunner(context: Context) : AutoCloseable {
    private val interpreter = Interpreter(loadModel(context, "$model_file"), Interpreter.Options().setNumThreads(2))
    val labels: List<String> = context.assets.open("labels.txt").bufferedReader().readLines().filter { it.isNotBlank() }

    /** [input]: $kotlin_input_doc; NaN = missing. Returns one probability per label. */
    fun predict(input: $kotlin_input_type): FloatArray {
        val output = FloatArray(labels.size)
        // runSignature resizes the dynamic length dimension to the input's size.
        interpreter.runSignature(mapOf("$input_name" to input), mapOf("$output_name" to output), "$signature")
        return output
    }

    fun top(input: $kotlin_input_type): Pair<String, Float> {
        val p = predict(input)
        val i = p.indices.maxByOrNull { p[it] } ?: 0
        return labels[i] to p[i]
    }

    override fun close() = interpreter.close()

    private fun loadModel(context: Context, name: String): MappedByteBuffer =
        context.assets.openFd(name).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { ch ->
                ch.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
}

// Usage (e.g. in an Activity):
//   ModelRunner(this).use { m -> val (label, p) = m.top($kotlin_demo_input); Log.i("edgelite", "$$label $$p") }
