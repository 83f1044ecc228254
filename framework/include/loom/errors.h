#pragma once
/// Loom's typed errors. Every check on user input throws one of these with a message that names
/// the operation, what it expected and what it got, e.g.
/// `matmul: inner dimensions differ: (32, 64) @ (128, 10)`.
///
///     try { loom::matmul(a, b); } catch (const loom::ShapeError& e) { std::puts(e.what()); }
#include <stdexcept>
#include <string>

namespace loom {

/// Base of every error Loom throws on bad input or misuse.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Shapes that do not fit the operation (rank, sizes, broadcasting).
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A value outside what the operation accepts (a negative probability, an empty list...).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// An index or axis out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};

/// A tensor of the wrong element type (float indices, mixed float32/float64 operands...).
class DtypeError : public Error {
 public:
  using Error::Error;
};

/// A kernel's raw access (`data<T>()`) to a tensor whose layout it cannot read: a view that is
/// not contiguous (call `contiguous()` first).
class LayoutError : public Error {
 public:
  using Error::Error;
};

/// The process cannot get the memory or address space an operation needs (RAM, or the limit
/// `ulimit -v` sets); the message says how much was asked for and what the limit leaves.
class ResourceError : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be read or written, or whose contents are not what the reader expects (a
/// bad checkpoint, a malformed data file); the message names the file.
class IOError : public Error {
 public:
  using Error::Error;
};

/// Autograd misuse (backward through a freed graph, a non-scalar without an explicit gradient).
class AutogradError : public Error {
 public:
  using Error::Error;
};

}  // namespace loom
