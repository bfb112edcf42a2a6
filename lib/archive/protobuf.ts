// Protobuf wire format, just enough to check and take apart a Kubernetes value (the `k8s\0` envelope and its
// runtime.Unknown) without a schema: used by verify (is the value well-formed?) and the drills (what kind is it?).

export interface FieldBounds {
  start: number;
  end: number;
}

/**
 * The first occurrence of each length-delimited field in [start, end) of `buf`, by field number; undefined when the
 * bytes are not valid wire format (bad tag, truncated field, unknown wire type, trailing bytes).
 */
export function protobufFields(buf: Buffer, start: number, end = buf.length): Map<number, FieldBounds> | undefined {
  const fields = new Map<number, FieldBounds>();
  let i = start;
  const varint = (): number => {
    let value = 0;
    for (let shift = 1; i < end && shift < 2 ** 56; shift *= 128) {
      const byte = buf[i++]!;
      value += (byte & 0x7f) * shift;
      if (byte < 0x80) return value;
    }
    return -1;
  };
  while (i < end) {
    const tag = varint();
    if (tag < 8) return undefined;
    const wire = tag % 8;
    if (wire === 0) {
      if (varint() < 0) return undefined;
    } else if (wire === 2) {
      const length = varint();
      if (length < 0 || i + length > end) return undefined;
      const field = Math.floor(tag / 8);
      if (!fields.has(field)) fields.set(field, { start: i, end: i + length });
      i += length;
    } else if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4;
    } else {
      return undefined;
    }
  }
  return i === end ? fields : undefined;
}
