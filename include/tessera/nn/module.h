// Neural-network modules (follows MLX's mlx.nn.Module). A Module is a tree: each node owns named
// parameters (arrays) and named child modules. Flattened, the tree is a `Params` map whose keys
// are dotted paths such as "layers.0.self_attn.q_proj.weight" -- the naming used by safetensors
// checkpoints of PyTorch/MLX models, so weights load without renaming.
//
// Differences from MLX's Python API, forced by C++:
//  * Parameters live in the module's registry, not in members. Layers read them with
//    `param("weight")`; `update()` and `load_weights()` replace registry entries, so the next
//    forward sees the new values.
//  * Layers call their children through the registry (`child("q_proj")(x)`), so that
//    `nn::quantize` can swap a Linear for a QuantizedLinear in place.
//  * Training mode is `train(true)` / `train(false)` (MLX's `train()` / `eval()`): `eval` would
//    shadow tessera::eval inside module code.
//  * Buffers (`register_buffer`) are state that is saved, loaded and updated with the parameters
//    but never trained, e.g. BatchNorm's running statistics and quantized weights (MLX gets the
//    same effect by re-freezing those names).
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::nn {

// Flat tree of named arrays, keyed by dotted path.
using Params = std::map<std::string, array>;

class Module;
using ModulePtr = std::shared_ptr<Module>;

// What load_weights found. Names are dotted paths; `mismatched` entries read
// "name: expected [4, 8] float32, got [8, 4] float32".
struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> missing;     // in the model, absent from the weights
  std::vector<std::string> unexpected;  // in the weights, absent from the model
  std::vector<std::string> mismatched;  // present in both with different shapes
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // Multi-line human-readable summary ("loaded 12 of 14 parameters; missing: ...").
  std::string to_string() const;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The layer's type name ("Linear", "Sequential"), used in messages and by nn::quantize.
  virtual std::string type_name() const { return "Module"; }

  // ---- Forward. ----
  // The general entry point: any number of inputs and outputs. Layers with one input override
  // it and read inputs[0]; layers with richer signatures (MultiHeadAttention) add typed call
  // operators and bring these into scope with `using Module::operator();`.
  virtual std::vector<array> forward(const std::vector<array>& inputs);
  // Single input, single output.
  array operator()(const array& x);
  std::vector<array> operator()(const std::vector<array>& inputs) { return forward(inputs); }
  // m({q, k, v}): without it a braced list would also match array's initializer-list constructor.
  std::vector<array> operator()(std::initializer_list<array> inputs) { return forward(std::vector<array>(inputs)); }

  // ---- Building the tree. ----
  // Names are single path components (no dots). Registering an existing name replaces it.
  array& register_parameter(const std::string& name, array value);
  array& register_buffer(const std::string& name, array value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    set_child(name, module);
    return module;
  }
  // A list of modules, named "<name>.0", "<name>.1", ... (an unnamed container node in between).
  void register_modules(const std::string& name, const std::vector<ModulePtr>& modules);

  // ---- Access. ----
  // Own parameter/buffer by local name; throws naming the module type and the name when absent.
  array& param(const std::string& name);
  const array& param(const std::string& name) const;
  bool has_param(const std::string& name) const;
  // Direct child by local name, or a descendant by dotted path ("layers.0").
  Module& child(const std::string& path) const;
  ModulePtr child_ptr(const std::string& path) const;
  bool has_child(const std::string& path) const;
  // Replaces a direct child or a descendant given by dotted path.
  void set_child(const std::string& path, ModulePtr module);

  // All parameters and buffers of the tree.
  Params parameters() const;
  // Parameters that are neither frozen nor buffers: what optimizers update and
  // nn::value_and_grad differentiates.
  Params trainable_parameters() const;
  // Direct children in registration order.
  std::vector<std::pair<std::string, ModulePtr>> children() const;
  // Every module of the tree with its dotted path, this one first with path "".
  std::vector<std::pair<std::string, Module*>> named_modules();
  // Own (non-recursive) parameter names in registration order.
  std::vector<std::string> local_parameter_names() const;

  // Sets parameters by dotted name. Every name must exist and keep its shape (dtype may change,
  // e.g. to cast a model); otherwise throws std::invalid_argument listing every offending name
  // and nothing is changed. Names not given keep their values.
  void update(const Params& params);

  // Freezing. With no keys, the whole module (recursively) is frozen. A key is either a dotted
  // path from this module to a parameter ("layers.0.weight") or a module ("layers.0"), or a local
  // parameter name matched in every module of the tree ("bias"). A key matching nothing throws.
  // With recurse=false, plain local names only match this module's own parameters.
  void freeze(const std::vector<std::string>& keys = {}, bool recurse = true);
  void unfreeze(const std::vector<std::string>& keys = {}, bool recurse = true);
  bool is_frozen(const std::string& local_name) const;

  // Training mode (dropout active, batch-norm statistics updated). Recursive. New modules train.
  void train(bool mode = true);
  bool training() const { return training_; }

  // Casts every floating-point parameter and buffer (not packed quantized weights) to `dtype`.
  void set_dtype(Dtype dtype);

  // ---- Weights on disk. ----
  // Loads named arrays into the tree. strict=true: any missing, unexpected or mis-shaped name
  // throws std::invalid_argument carrying the report, and nothing is changed. strict=false: the
  // names that match in name and shape are loaded and the report says what was skipped.
  // Loaded arrays keep their own dtype, as in MLX (cast afterwards with set_dtype if needed).
  LoadReport load_weights(const Params& weights, bool strict = true);
  LoadReport load_weights(const std::string& path, bool strict = true);
  // Writes parameters() as safetensors (atomically: temporary file, then rename).
  void save_weights(const std::string& path) const;

  // Multi-line summary of the tree: paths, types and parameter shapes.
  std::string describe() const;

 protected:
  // For single-input layers: checks there is exactly one input and returns it.
  const array& single_input(const std::vector<array>& inputs) const;

 private:
  struct Entry {
    std::string name;
    array value;
    bool buffer = false;
    bool frozen = false;
  };
  Entry* find_entry(const std::string& name);
  const Entry* find_entry(const std::string& name) const;
  // Resolves "a.b.c" to (owner module, local name) for a parameter; null when absent.
  std::pair<Module*, Entry*> resolve_parameter(const std::string& path);
  void collect(const std::string& prefix, Params& out, bool trainable_only) const;
  void set_frozen(const std::vector<std::string>& keys, bool recurse, bool frozen, const char* op);

  std::vector<Entry> params_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  bool training_ = true;
};

// Differentiates `fn` with respect to the model's trainable parameters (MLX's nn.value_and_grad).
// `fn` calls the model as usual; during the call the trainable parameters are replaced by traced
// copies and restored afterwards. The returned function gives fn's outputs and the gradient of
// its first output (a scalar) as Params keyed like trainable_parameters(). The model must outlive
// the returned function.
using ModuleLossFn = std::function<std::vector<array>(const std::vector<array>&)>;
using ModuleValueAndGradFn = std::function<std::pair<std::vector<array>, Params>(const std::vector<array>&)>;
ModuleValueAndGradFn value_and_grad(Module& model, ModuleLossFn fn);
// Scalar-loss convenience: fn returns the loss only.
std::function<std::pair<array, Params>(const std::vector<array>&)> value_and_grad(
    Module& model, std::function<array(const std::vector<array>&)> fn);

}  // namespace tessera::nn
