// Builds ui/vendor/vueflow.js (one ES module, vue external) and ui/vendor/vueflow.LICENSE (every bundled package's
// license). Build outside the repo so node_modules never lands in it:
//   cp -r ui/canvas-src /tmp/canvas-src && (cd /tmp/canvas-src && npm ci && OUT=$OLDPWD/ui/vendor/vueflow.js npm run build)
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { build, transform } from "esbuild";

const out = process.env.OUT ?? "../vendor/vueflow.js";

// CSS comes in as minified text; index.mjs injects it into <head>
const cssAsText = {
  name: "css-as-text",
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async (args) => {
      const { code } = await transform(readFileSync(args.path, "utf8"), { loader: "css", minify: true });
      return { contents: code, loader: "text" };
    });
  },
};

const result = await build({
  entryPoints: ["index.mjs"],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  external: ["vue"], // NiceGUI's own Vue via its importmap
  plugins: [cssAsText],
  legalComments: "none", // collected into vueflow.LICENSE below
  banner: { js: "/*! Vue Flow (@vue-flow/core, background, controls; MIT) and its dependencies, see vueflow.LICENSE. " +
    "Bundled by flowbox ui/canvas-src; vue is imported from NiceGUI. */" },
  define: { "process.env.NODE_ENV": '"production"' },
  metafile: true,
  outfile: out,
});

// one license section per bundled package, with the dependencies their prebuilt dist files inline (d3, vueuse)
const packages = new Map();
const add = (name, parent = ".") => {
  if (packages.has(name) || name === "vue" || name.startsWith("@vue/")) return;
  const nested = join(parent, "node_modules", name);
  const dir = existsSync(nested) ? nested : join("node_modules", name);
  packages.set(name, dir);
  const deps = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies ?? {};
  Object.keys(deps).forEach((dep) => add(dep, dir));
};
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m) add(m[1]);
}
const sections = [...packages].sort().map(([name, dir]) => {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  const text = file ? readFileSync(join(dir, file), "utf8").trim() : `License: ${pkg.license}`;
  return `${name} ${pkg.version} (${pkg.license})\n${"-".repeat(60)}\n${text}\n`;
});
writeFileSync(join(dirname(out), "vueflow.LICENSE"),
  `Third-party code bundled in vueflow.js (built from flowbox ui/canvas-src):\n\n${sections.join("\n")}`);
console.log(`wrote ${out} and vueflow.LICENSE (${packages.size} packages)`);
