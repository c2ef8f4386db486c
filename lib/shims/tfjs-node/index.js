// danfojs-node hard-requires @tensorflow/tfjs-node 3.x, whose install downloads libtensorflow.
// package.json "overrides" points danfojs-node here instead. We hand it the native binding when the
// project's optional @tensorflow/tfjs-node 4.x installed, else the pure-JS @tensorflow/tfjs.
try {
  module.exports = require('@tensorflow/tfjs-node');
} catch (e) {
  module.exports = require('@tensorflow/tfjs');
}
