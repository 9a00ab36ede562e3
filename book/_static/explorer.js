/* The live prototype explorer (book/explorer.md).
 *
 * Runs a run's exported conditional decoder (cae.export: decoder.onnx, decoder.json, the
 * page's download links) with onnxruntime-web from the book's own _static/onnxruntime/.
 * The reader sets mixing weights over the prototypes and the assignment temperature T;
 * every change decodes one image, draws it, shows the soft assignment s the graph
 * computed, and draws how the image differs from the same mix at the run's own T.
 * The output canvas counts its redraws in data-renders (scripts/check_book.py reads it).
 */
(() => {
  "use strict";
  const base = new URL(".", document.currentScript.src).href;  // .../_static/
  // the difference image's fixed scale: full red or blue at a change of this much pixel
  // intensity (images lie in [0, 1]), so a small change looks small; the colour bar says so
  const DIFF_SCALE = 0.25;
  const T_MIN = -2, T_MAX = 1;  // the temperature slider runs over log10 T

  const el = (tag, props = {}, children = []) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };
  const link = name => document.querySelector(`a[download][href$="/${name}"]`);

  /* Draw image i of a (b, c, 28, 28) tensor into a 28x28 canvas (grey or RGB). */
  function drawImage(canvas, tensor, i = 0) {
    const [, c, hgt, wid] = tensor.dims, n = hgt * wid, data = tensor.data;
    const out = canvas.getContext("2d").createImageData(wid, hgt);
    for (let p = 0; p < n; p++) {
      for (let ch = 0; ch < 3; ch++) {
        out.data[4 * p + ch] = 255 * data[(i * c + (c === 1 ? 0 : ch)) * n + p];
      }
      out.data[4 * p + 3] = 255;
    }
    canvas.getContext("2d").putImageData(out, 0, 0);
  }

  /* Draw image - reference (channel mean) in blue-white-red on the fixed scale DIFF_SCALE
     (a larger change saturates); return the largest |change|. */
  function drawDifference(canvas, image, reference) {
    const [, c, hgt, wid] = image.dims, n = hgt * wid;
    const change = Array.from({length: n}, (_, p) => {
      let d = 0;
      for (let ch = 0; ch < c; ch++) d += (image.data[ch * n + p] - reference.data[ch * n + p]) / c;
      return d;
    });
    const out = canvas.getContext("2d").createImageData(wid, hgt);
    change.forEach((d, p) => {
      const fade = Math.round(255 * (1 - Math.min(Math.abs(d) / DIFF_SCALE, 1)));
      out.data.set(d >= 0 ? [255, fade, fade, 255] : [fade, fade, 255, 255], 4 * p);
    });
    canvas.getContext("2d").putImageData(out, 0, 0);
    return Math.max(...change.map(Math.abs));
  }

  /* The difference image's colour bar: blue (darker by DIFF_SCALE) to white to red
     (brighter by DIFF_SCALE), with its three values written under it. */
  function colourBar(width) {
    const bar = el("canvas", {className: "cae-explorer-colourbar", width: 64, height: 1});
    const ctx = bar.getContext("2d"), out = ctx.createImageData(64, 1);
    for (let x = 0; x < 64; x++) {
      const d = (x / 63) * 2 - 1, fade = Math.round(255 * (1 - Math.abs(d)));
      out.data.set(d >= 0 ? [255, fade, fade, 255] : [fade, fade, 255, 255], 4 * x);
    }
    ctx.putImageData(out, 0, 0);
    bar.style.width = `${width}px`;
    bar.style.height = "10px";
    const ticks = el("div", {className: "cae-explorer-colourbar-ticks"}, [
      el("span", {textContent: `-${DIFF_SCALE}`}), el("span", {textContent: "0"}),
      el("span", {textContent: `+${DIFF_SCALE}`})]);
    ticks.style.width = `${width}px`;
    return el("div", {}, [bar, ticks]);
  }

  function pixelCanvas(className, size) {
    const canvas = el("canvas", {className, width: 28, height: 28});
    canvas.style.width = canvas.style.height = `${size}px`;
    return canvas;
  }

  async function start(root) {
    const modelLink = link("decoder.onnx"), infoLink = link("decoder.json");
    if (location.protocol === "file:") {
      throw new Error("browsers load WebAssembly only from a web server, not from file:// "
        + "pages: serve the built book (python -m http.server -d _build/html) and open "
        + "http://localhost:8000/book/explorer.html");
    }
    if (!modelLink || !infoLink || !window.ort) {
      throw new Error("the page lacks its decoder links or onnxruntime-web (scripts/fetch_onnxruntime.sh)");
    }
    ort.env.wasm.wasmPaths = base + "onnxruntime/";
    ort.env.wasm.numThreads = 1;
    const info = await (await fetch(infoLink.href)).json();
    const session = await ort.InferenceSession.create(modelLink.href, {executionProviders: ["wasm"]});
    const k = info.prototypes.length, runT = info.assign_temperature;
    const decode = async (weights, rows, temperature) => session.run({
      weights: new ort.Tensor("float32", Float32Array.from(weights), [rows, k]),
      temperature: new ort.Tensor("float32", Float32Array.of(temperature), [1]),
    });

    const sliders = [], bars = [], values = [];
    const table = el("table", {className: "cae-explorer-prototypes"}, [el("thead", {}, [el("tr", {}, [
      el("th", {textContent: "prototype"}), el("th", {textContent: "weight w"}),
      el("th", {textContent: "assignment s"})])])]);
    const body = el("tbody");
    table.append(body);
    const thumbnails = await decode(Array.from({length: k * k}, (_, j) => +(j % (k + 1) === 0)), k, runT);
    info.prototypes.forEach((proto, i) => {
      const thumb = pixelCanvas("cae-explorer-thumb", 42);
      drawImage(thumb, thumbnails.image, i);
      const share = Math.round(100 * Math.max(...proto.class_fractions));
      const pick = el("button", {type: "button", title: `use prototype ${i} alone`}, [thumb]);
      pick.addEventListener("click", () => { sliders.forEach((s, j) => { s.value = j === i ? 100 : 0; }); update(); });
      const slider = el("input", {type: "range", min: 0, max: 100, step: 1, value: i === 0 ? 100 : 0,
        className: "cae-explorer-weight"});
      slider.setAttribute("aria-label", `weight of prototype ${i}`);
      slider.addEventListener("input", update);
      const value = el("span", {className: "cae-explorer-value"});
      const bar = el("span", {className: "cae-explorer-bar"});
      sliders.push(slider); values.push(value); bars.push(bar);
      body.append(el("tr", {}, [
        el("td", {}, [pick, el("span", {textContent: ` ${i}: ${proto.class} (${share}%)`})]),
        el("td", {}, [slider, value]),
        el("td", {}, [el("span", {className: "cae-explorer-track"}, [bar])]),
      ]));
    });

    const temperature = el("input", {type: "range", min: T_MIN, max: T_MAX, step: 0.01,
      value: Math.log10(runT).toFixed(2), className: "cae-explorer-temperature"});
    temperature.setAttribute("aria-label", "assignment temperature (log scale)");
    temperature.addEventListener("input", update);
    const tLabel = el("span");
    const output = pixelCanvas("cae-explorer-output", 196);
    output.dataset.renders = "0";
    const difference = pixelCanvas("cae-explorer-difference", 98);
    const diffLabel = el("figcaption");
    root.replaceChildren(
      el("div", {className: "cae-explorer-controls"}, [table,
        el("label", {}, [el("span", {textContent: "temperature T "}), temperature, tLabel])]),
      el("div", {className: "cae-explorer-images"}, [
        el("figure", {}, [output, el("figcaption", {textContent: "decoded image"})]),
        el("figure", {}, [difference, colourBar(98), diffLabel])]));

    let busy = false, again = false;
    async function draw() {
      const raw = sliders.map(s => +s.value), total = raw.reduce((a, b) => a + b, 0);
      const weights = raw.map(w => (total > 0 ? w / total : 0));
      const t = 10 ** +temperature.value;
      const now = await decode(weights, 1, t), atRun = await decode(weights, 1, runT);
      drawImage(output, now.image);
      const largest = drawDifference(difference, now.image, atRun.image);
      weights.forEach((w, i) => {
        values[i].textContent = ` ${w.toFixed(2)}`;
        const s = now.assignment.data[i];
        bars[i].style.width = `${(100 * s).toFixed(1)}%`;
        bars[i].title = bars[i].parentElement.title = `s = ${s.toFixed(3)}`;
      });
      tLabel.textContent = ` ${t.toPrecision(2)} (the run's: ${runT})`;
      diffLabel.textContent = largest < 0.0005
        ? `no change: this is the run's T = ${runT}; move the temperature to see what it changes`
        : `change from T = ${runT}: largest ${largest.toFixed(3)} (red brighter, blue darker; `
          + `full colour at ${DIFF_SCALE})`;
      output.dataset.renders = String(+output.dataset.renders + 1);
    }
    async function update() {
      if (busy) { again = true; return; }
      busy = true;
      try {
        do { again = false; await draw(); } while (again);
      } finally { busy = false; }
    }
    root.dataset.state = "ready";
    await update();
  }

  const root = document.getElementById("cae-explorer");
  if (root) {
    start(root).catch(err => {
      root.dataset.state = "error";
      root.replaceChildren(el("p", {className: "cae-explorer-error",
        textContent: `The explorer could not start: ${err.message}`}));
      if (location.protocol !== "file:") console.error(err);
    });
  }
})();
