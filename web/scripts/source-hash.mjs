// Hash of the web app's build inputs, written next to the build output so a
// Go test (internal/surface/web/staleness_test.go) can tell when the
// committed build is stale without needing Node. The Go test computes the
// same hash; keep the two in step.
//
// hash = sha256 over, for each input file in byte order of its path
// (relative to web/, forward slashes): path "\0" sha256hex(content) "\n".
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const topFiles = ["index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "svelte.config.js"];
const dirs = ["src", "scripts", "public"];

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

export function sourceHash() {
  const files = [];
  for (const f of topFiles) {
    try {
      if (statSync(join(root, f)).isFile()) files.push(join(root, f));
    } catch {
      /* optional input */
    }
  }
  for (const d of dirs) walk(join(root, d), files);
  const rel = files.map((f) => relative(root, f).split(sep).join("/"));
  rel.sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : Buffer.from(a) > Buffer.from(b) ? 1 : 0));
  const h = createHash("sha256");
  for (const r of rel) {
    const c = createHash("sha256").update(readFileSync(join(root, r))).digest("hex");
    h.update(`${r}\0${c}\n`);
  }
  return h.digest("hex");
}

if (process.argv.includes("--write")) {
  const out = join(root, "..", "internal", "surface", "web", "dist", "source-hash.txt");
  writeFileSync(out, sourceHash() + "\n");
  console.log(`source hash written to ${relative(process.cwd(), out)}`);
} else {
  console.log(sourceHash());
}
