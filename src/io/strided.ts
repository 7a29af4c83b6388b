/**
 * Copies a strided view of `data` (its first element at `offset`; shape and strides in elements) into `out` in C order
 * (last axis fastest), one element after another: a PyTorch tensor view, or a NumPy array in Fortran order (strides
 * 1, d0, d0 * d1, ...). The caller checks that the view stays within `data`.
 */
export function copyStrided<V>(data: ArrayLike<V>, offset: number, shape: readonly number[], stride: readonly number[], out: { [i: number]: V; readonly length: number }): void {
  const index = new Array<number>(shape.length).fill(0);
  let at = offset;
  for (let i = 0; i < out.length; i++) {
    out[i] = data[at];
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      if (++index[axis] < shape[axis]) {
        at += stride[axis];
        break;
      }
      at -= (shape[axis] - 1) * stride[axis];
      index[axis] = 0;
    }
  }
}
