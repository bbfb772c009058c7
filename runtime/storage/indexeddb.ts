/**
 * @fileoverview `indexeddb://NAME`: weights records in the browser's IndexedDB (database
 * "condc", store "weights", keyed by NAME). A put commits whole or not at all.
 */
import { StorageError } from "./errors.js";
import type { WeightsRecord } from "./record.js";

const DATABASE = "condc";
const STORE = "weights";

function idbFactory(url: string): IDBFactory {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) throw new StorageError(url, "IndexedDB is not available here (indexeddb:// works in browsers and their workers)");
  return factory;
}

const reason = (error: DOMException | null | undefined): string => (error ? `${error.name}: ${error.message}` : "unknown IndexedDB error");

function open(url: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = idbFactory(url).open(DATABASE, 1);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new StorageError(url, `cannot open IndexedDB database "${DATABASE}": ${reason(request.error)}`));
    request.onblocked = () => reject(new StorageError(url, `IndexedDB database "${DATABASE}" is blocked by another open connection`));
  });
}

/** Runs one request in a transaction; resolves when the transaction completes (durably, for writes). */
async function transact<T>(url: string, mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open(url);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onabort = () => reject(new StorageError(url, `IndexedDB transaction aborted: ${reason(tx.error ?? request.error)}`));
      tx.onerror = () => undefined; // reported by onabort
    });
  } finally {
    db.close();
  }
}

export async function putRecord(url: string, name: string, record: WeightsRecord): Promise<void> {
  await transact(url, "readwrite", (store) => store.put(record, name));
}

export async function getRecord(url: string, name: string): Promise<unknown> {
  const value = await transact(url, "readonly", (store) => store.get(name));
  if (value === undefined) throw new StorageError(url, `no model saved under "${name}" in IndexedDB`);
  return value;
}

export async function deleteRecord(url: string, name: string): Promise<void> {
  await transact(url, "readwrite", (store) => store.delete(name));
}

export async function listRecordNames(url: string): Promise<string[]> {
  const keys = await transact(url, "readonly", (store) => store.getAllKeys());
  return keys.map(String);
}
