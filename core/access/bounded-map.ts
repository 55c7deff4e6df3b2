// A Map with a hard cap on its size: touching a key makes it the newest; inserting past the cap
// evicts the least recently touched keys. Used for throttling state, so that a flood of distinct
// client addresses or user names cannot grow memory without bound.

export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  }

  get size(): number {
    return this.#map.size;
  }

  /** Reads without changing the eviction order. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Reads and marks the key as most recently used. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.capacity) {
      // Map iterates in insertion order, so the first key is the least recently touched.
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#map.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
