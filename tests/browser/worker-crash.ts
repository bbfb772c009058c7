/**
 * @fileoverview A worker script for the crash test: condc's worker with a listener in front
 * that swallows the first predict call and throws an uncaught error instead.
 */
import "./worker-crash-listener.js";
import "../../runtime/worker/worker-browser.js";
