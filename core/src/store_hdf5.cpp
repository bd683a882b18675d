// HDF5 helpers of the capture store: error text, fp16, types and attributes. Every call is checked; errors
// become one-line StoreErrors naming the file, with HDF5's own innermost message appended.

#include <algorithm>
#include <cstdlib>

#include "store_internal.h"

namespace attnscope::store {

void quietHdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

namespace {

herr_t collectDescription(unsigned, const H5E_error2_t* error, void* out) {
  if (error->desc && *error->desc) *static_cast<std::string*>(out) = error->desc;
  return 0;
}

}  // namespace

std::string hdf5Detail() {
  std::string innermost;
  // Walking downward visits the API call first and the lowest-level cause last: keep the last description.
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collectDescription, &innermost);
  H5Eclear2(H5E_DEFAULT);
  // HDF5's messages may quote object names from the file; escaped, but whole, as before.
  return escapeForMessage(innermost, std::string_view::npos);
}

void fail(const std::string& where, const std::string& what) {
  throw StoreError(where + ": " + what);
}

void refuse(const std::string& where, const std::string& what) {
  throw RefusedCapture(where + ": " + what);
}

hid_t check(hid_t id, const std::string& where, const std::string& what) {
  if (id < 0) {
    std::string detail = hdf5Detail();
    fail(where, detail.empty() ? what : what + " (" + detail + ")");
  }
  return id;
}

uint16_t floatToHalf(float value) {
  uint32_t x;
  std::memcpy(&x, &value, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return 0x7e00;          // NaN
  if (ax >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity (or is infinity)
  if (ax >= 0x38800000u) {                      // normal half: rebias, round the 13 dropped bits
    uint32_t h = (ax - 0x38000000u) >> 13;
    const uint32_t rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is still right
    return static_cast<uint16_t>(sign | h);
  }
  if (ax <= 0x33000000u) return sign;  // <= 2^-25 (a tie) rounds to zero
  // Subnormal half: value / 2^-24 rounded to an integer; the float's exponent is in [102, 112].
  const uint32_t exponent = ax >> 23, mantissa = (ax & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - exponent, half_ulp = 1u << (shift - 1);
  uint32_t h = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  if (rest > half_ulp || (rest == half_ulp && (h & 1u))) ++h;  // may round up to the smallest normal: fine
  return static_cast<uint16_t>(sign | h);
}

TypeHandle makeHalfType() {
  TypeHandle type(check(H5Tcopy(H5T_IEEE_F32LE), "HDF5", "cannot copy float type"));
  // Fields first (they fit in 16 bits), then shrink: sign bit 15, exponent bits 10..14, mantissa bits 0..9.
  if (H5Tset_fields(type, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(type, 16) < 0 ||
      H5Tset_size(type, 2) < 0 || H5Tset_ebias(type, 15) < 0)
    fail("HDF5", "cannot define the float16 type (" + hdf5Detail() + ")");
  return type;
}

TypeHandle makeUtf8StringType() {
  TypeHandle type(check(H5Tcopy(H5T_C_S1), "HDF5", "cannot copy string type"));
  if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)
    fail("HDF5", "cannot define the UTF-8 string type (" + hdf5Detail() + ")");
  return type;
}

namespace {

/// Opens attribute name for writing: the existing one (same type and shape assumed) or a new one.
AttrHandle attrForWrite(hid_t object, const char* name, hid_t type, hid_t space, const std::string& where) {
  if (H5Aexists(object, name) > 0)
    return AttrHandle(
        check(H5Aopen(object, name, H5P_DEFAULT), where, std::string("cannot open attribute ") + name));
  return AttrHandle(check(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), where,
                          std::string("cannot create attribute ") + name));
}

AttrHandle openAttr(hid_t object, const char* name, const std::string& where) {
  if (H5Aexists(object, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    fail(where, std::string("missing attribute ") + name);
  }
  return AttrHandle(
      check(H5Aopen(object, name, H5P_DEFAULT), where, std::string("cannot open attribute ") + name));
}

int64_t attrPoints(hid_t attr, const char* name, const std::string& where) {
  SpaceHandle space(check(H5Aget_space(attr), where, std::string("cannot read attribute ") + name));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail(where, std::string("cannot read attribute ") + name);
  return n;
}

}  // namespace

void writeStringAttr(hid_t object, const char* name, const std::string& value, const std::string& where) {
  TypeHandle type = makeUtf8StringType();
  SpaceHandle space(check(H5Screate(H5S_SCALAR), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, type, space, where);
  const char* text = value.c_str();
  if (H5Awrite(attr, type, &text) < 0) fail(where, std::string("cannot write attribute ") + name);
}

void writeIntAttr(hid_t object, const char* name, int64_t value, const std::string& where) {
  SpaceHandle space(check(H5Screate(H5S_SCALAR), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, H5T_STD_I64LE, space, where);
  if (H5Awrite(attr, H5T_NATIVE_INT64, &value) < 0)
    fail(where, std::string("cannot write attribute ") + name);
}

void writeInt64ArrayAttr(hid_t object, const char* name, const std::vector<int64_t>& values, hsize_t rows,
                         hsize_t cols, const std::string& where) {
  const hsize_t dims[2] = {rows, cols};
  SpaceHandle space(check(H5Screate_simple(2, dims, nullptr), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, H5T_STD_I64LE, space, where);
  if (!values.empty() && H5Awrite(attr, H5T_NATIVE_INT64, values.data()) < 0)
    fail(where, std::string("cannot write attribute ") + name);
}

bool hasAttr(hid_t object, const char* name) {
  htri_t exists = H5Aexists(object, name);
  if (exists < 0) H5Eclear2(H5E_DEFAULT);
  return exists > 0;
}

std::string readStringAttr(hid_t object, const char* name, const std::string& where) {
  AttrHandle attr = openAttr(object, name, where);
  TypeHandle type(check(H5Aget_type(attr), where, std::string("cannot read attribute ") + name));
  if (H5Tget_class(type) != H5T_STRING || attrPoints(attr, name, where) != 1)
    fail(where, std::string("attribute ") + name + " is not a string");
  if (H5Tis_variable_str(type) > 0) {
    TypeHandle memory = makeUtf8StringType();
    char* text = nullptr;
    if (H5Aread(attr, memory, &text) < 0) fail(where, std::string("cannot read attribute ") + name);
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  const size_t size = H5Tget_size(type);
  if (size == 0 || size > static_cast<size_t>(kMaxCaptureStringBytes))
    refuse(where, std::string("attribute ") + name + " declares a " + std::to_string(size) +
                      "-byte string (bound " + std::to_string(kMaxCaptureStringBytes) + ")");
  TypeHandle memory(check(H5Tcopy(H5T_C_S1), where, "cannot copy string type"));
  H5Tset_size(memory, size);
  std::string out(size, '\0');
  if (size > 0 && H5Aread(attr, memory, out.data()) < 0)
    fail(where, std::string("cannot read attribute ") + name);
  out.resize(std::strlen(out.c_str()));  // fixed-length strings are NUL-padded
  return out;
}

int64_t readIntAttr(hid_t object, const char* name, const std::string& where) {
  AttrHandle attr = openAttr(object, name, where);
  TypeHandle type(check(H5Aget_type(attr), where, std::string("cannot read attribute ") + name));
  if (H5Tget_class(type) != H5T_INTEGER || attrPoints(attr, name, where) != 1)
    fail(where, std::string("attribute ") + name + " is not an integer");
  int64_t value = 0;
  if (H5Aread(attr, H5T_NATIVE_INT64, &value) < 0) fail(where, std::string("cannot read attribute ") + name);
  return value;
}

std::vector<int64_t> readInt64ArrayAttr(hid_t object, const char* name, const std::string& where,
                                        std::vector<hsize_t>* dims, int64_t max_values) {
  AttrHandle attr = openAttr(object, name, where);
  TypeHandle type(check(H5Aget_type(attr), where, std::string("cannot read attribute ") + name));
  if (H5Tget_class(type) != H5T_INTEGER) fail(where, std::string("attribute ") + name + " is not integer");
  SpaceHandle space(check(H5Aget_space(attr), where, std::string("cannot read attribute ") + name));
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail(where, std::string("cannot read attribute ") + name);
  dims->assign(static_cast<size_t>(rank), 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims->data(), nullptr);
  const int64_t n = attrPoints(attr, name, where);
  if (n > max_values)
    refuse(where, std::string("attribute ") + name + " declares " + std::to_string(n) + " values (bound " +
                      std::to_string(max_values) + ")");
  std::vector<int64_t> values(static_cast<size_t>(n));
  if (!values.empty() && H5Aread(attr, H5T_NATIVE_INT64, values.data()) < 0)
    fail(where, std::string("cannot read attribute ") + name);
  return values;
}

void writeInt64ListAttr(hid_t object, const char* name, const std::vector<int64_t>& values,
                        const std::string& where) {
  const hsize_t n = values.size();
  SpaceHandle space(check(H5Screate_simple(1, &n, nullptr), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, H5T_STD_I64LE, space, where);
  if (!values.empty() && H5Awrite(attr, H5T_NATIVE_INT64, values.data()) < 0)
    fail(where, std::string("cannot write attribute ") + name);
}

void writeDoubleListAttr(hid_t object, const char* name, const std::vector<double>& values,
                         const std::string& where) {
  const hsize_t n = values.size();
  SpaceHandle space(check(H5Screate_simple(1, &n, nullptr), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, H5T_IEEE_F64LE, space, where);
  if (!values.empty() && H5Awrite(attr, H5T_NATIVE_DOUBLE, values.data()) < 0)
    fail(where, std::string("cannot write attribute ") + name);
}

void writeStringListAttr(hid_t object, const char* name, const std::vector<std::string>& values,
                         const std::string& where) {
  TypeHandle type = makeUtf8StringType();
  const hsize_t n = values.size();
  SpaceHandle space(check(H5Screate_simple(1, &n, nullptr), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, type, space, where);
  std::vector<const char*> pointers;
  for (const std::string& value : values) pointers.push_back(value.c_str());
  if (!values.empty() && H5Awrite(attr, type, pointers.data()) < 0)
    fail(where, std::string("cannot write attribute ") + name);
}

void writeUint64Attr(hid_t object, const char* name, uint64_t value, const std::string& where) {
  SpaceHandle space(check(H5Screate(H5S_SCALAR), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, H5T_STD_U64LE, space, where);
  if (H5Awrite(attr, H5T_NATIVE_UINT64, &value) < 0)
    fail(where, std::string("cannot write attribute ") + name);
}

void writeDoubleAttr(hid_t object, const char* name, double value, const std::string& where) {
  SpaceHandle space(check(H5Screate(H5S_SCALAR), where, "cannot create dataspace"));
  AttrHandle attr = attrForWrite(object, name, H5T_IEEE_F64LE, space, where);
  if (H5Awrite(attr, H5T_NATIVE_DOUBLE, &value) < 0)
    fail(where, std::string("cannot write attribute ") + name);
}

namespace {

/// Opens a one-dimensional attribute of class type_class with at most max_values values; returns the count.
AttrHandle openListAttr(hid_t object, const char* name, H5T_class_t type_class, const std::string& where,
                        int64_t max_values, int64_t* n) {
  AttrHandle attr = openAttr(object, name, where);
  TypeHandle type(check(H5Aget_type(attr), where, std::string("cannot read attribute ") + name));
  SpaceHandle space(check(H5Aget_space(attr), where, std::string("cannot read attribute ") + name));
  if (H5Tget_class(type) != type_class || H5Sget_simple_extent_ndims(space) != 1)
    fail(where, std::string("attribute ") + name + " is not a list of " +
                    (type_class == H5T_FLOAT    ? "numbers"
                     : type_class == H5T_STRING ? "strings"
                                                : "integers"));
  *n = attrPoints(attr, name, where);
  if (*n > max_values)
    refuse(where, std::string("attribute ") + name + " declares " + std::to_string(*n) + " values (bound " +
                      std::to_string(max_values) + ")");
  return attr;
}

}  // namespace

std::vector<double> readDoubleListAttr(hid_t object, const char* name, const std::string& where,
                                       int64_t max_values) {
  int64_t n = 0;
  AttrHandle attr = openListAttr(object, name, H5T_FLOAT, where, max_values, &n);
  std::vector<double> values(static_cast<size_t>(n));
  if (!values.empty() && H5Aread(attr, H5T_NATIVE_DOUBLE, values.data()) < 0)
    fail(where, std::string("cannot read attribute ") + name);
  return values;
}

std::vector<std::string> readStringListAttr(hid_t object, const char* name, const std::string& where,
                                            int64_t max_values, int64_t max_bytes) {
  int64_t n = 0;
  AttrHandle attr = openListAttr(object, name, H5T_STRING, where, max_values, &n);
  TypeHandle type(check(H5Aget_type(attr), where, std::string("cannot read attribute ") + name));
  std::vector<std::string> values;
  const auto tooLong = [&](size_t size) {
    refuse(where, std::string("attribute ") + name + " holds a " + std::to_string(size) +
                      "-byte string (bound " + std::to_string(max_bytes) + ")");
  };
  if (n == 0) return values;
  if (H5Tis_variable_str(type) > 0) {
    TypeHandle memory = makeUtf8StringType();
    std::vector<char*> pointers(static_cast<size_t>(n), nullptr);
    const bool read = H5Aread(attr, memory, pointers.data()) >= 0;
    size_t longest = 0;
    for (char* p : pointers) {
      const size_t size = p ? std::strlen(p) : 0;
      longest = std::max(longest, size);
      if (read && size <= static_cast<size_t>(max_bytes)) values.emplace_back(p ? p : "");
    }
    for (char* p : pointers) H5free_memory(p);
    if (!read) fail(where, std::string("cannot read attribute ") + name);
    if (longest > static_cast<size_t>(max_bytes)) tooLong(longest);
    return values;
  }
  const size_t size = H5Tget_size(type);
  if (size == 0 || size > static_cast<size_t>(max_bytes)) tooLong(size);
  TypeHandle memory(check(H5Tcopy(H5T_C_S1), where, "cannot copy string type"));
  H5Tset_size(memory, size);
  std::vector<char> buffer(size * static_cast<size_t>(n));
  if (H5Aread(attr, memory, buffer.data()) < 0) fail(where, std::string("cannot read attribute ") + name);
  for (int64_t i = 0; i < n; ++i) {
    const char* start = buffer.data() + static_cast<size_t>(i) * size;
    values.emplace_back(start, strnlen(start, size));
  }
  return values;
}

uint64_t readUint64Attr(hid_t object, const char* name, const std::string& where) {
  AttrHandle attr = openAttr(object, name, where);
  TypeHandle type(check(H5Aget_type(attr), where, std::string("cannot read attribute ") + name));
  if (H5Tget_class(type) != H5T_INTEGER || attrPoints(attr, name, where) != 1)
    fail(where, std::string("attribute ") + name + " is not an integer");
  uint64_t value = 0;
  if (H5Aread(attr, H5T_NATIVE_UINT64, &value) < 0) fail(where, std::string("cannot read attribute ") + name);
  return value;
}

double readDoubleAttr(hid_t object, const char* name, const std::string& where) {
  AttrHandle attr = openAttr(object, name, where);
  TypeHandle type(check(H5Aget_type(attr), where, std::string("cannot read attribute ") + name));
  if (H5Tget_class(type) != H5T_FLOAT || attrPoints(attr, name, where) != 1)
    fail(where, std::string("attribute ") + name + " is not a number");
  double value = 0;
  if (H5Aread(attr, H5T_NATIVE_DOUBLE, &value) < 0) fail(where, std::string("cannot read attribute ") + name);
  return value;
}

namespace {

herr_t collectName(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

}  // namespace

std::vector<std::string> linkNames(hid_t group, const std::string& where) {
  std::vector<std::string> names;
  hsize_t index = 0;
  // Creation order where the group tracks it (/runs), else name order.
  if (H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, &index, collectName, &names) >= 0) return names;
  H5Eclear2(H5E_DEFAULT);
  names.clear();
  index = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, collectName, &names) < 0)
    fail(where, "cannot list group (" + hdf5Detail() + ")");
  return names;
}

bool pathExists(hid_t loc, const std::string& path, const std::string& where) {
  for (size_t end = path.find('/');; end = path.find('/', end + 1)) {
    const std::string prefix = path.substr(0, end);
    htri_t exists = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    // Checked before the next component is looked up through it: H5Lexists would follow a soft or external
    // link, and an external link names any file on the machine.
    H5L_info_t info = {};
    if (H5Lget_info(loc, prefix.c_str(), &info, H5P_DEFAULT) < 0)
      fail(where, "cannot read link " + quoteForMessage(prefix) + " (" + hdf5Detail() + ")");
    if (info.type != H5L_TYPE_HARD)
      refuse(where, quoteForMessage(prefix) + " is " +
                        (info.type == H5L_TYPE_SOFT       ? "a soft"
                         : info.type == H5L_TYPE_EXTERNAL ? "an external"
                                                          : "a user-defined") +
                        " link; captures are read through hard links only");
    if (end == std::string::npos) return true;
  }
}

std::vector<hsize_t> datasetDims(hid_t dataset, const std::string& where) {
  SpaceHandle space(check(H5Dget_space(dataset), where, "cannot read dataspace"));
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail(where, "cannot read dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

void checkStoredInFile(hid_t dataset, const std::string& path, const std::string& where) {
  PlistHandle dcpl(
      check(H5Dget_create_plist(dataset), where, "cannot read the layout of " + quoteForMessage(path)));
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  const int external = H5Pget_external_count(dcpl);
  if (layout == H5D_VIRTUAL || external != 0)
    refuse(where, "dataset " + quoteForMessage(path) + " is " +
                      (layout == H5D_VIRTUAL ? "virtual" : "stored in external files") +
                      "; captures are read from their own file only");
}

std::string dimsText(const std::vector<hsize_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

int64_t pyramidLevels(int64_t n) {
  int64_t levels = 1;
  while (levelSide(n, levels - 1) > kPyramidStopSide) ++levels;
  return levels;
}

}  // namespace attnscope::store
