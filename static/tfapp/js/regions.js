/*
 * Upload page: paint regions on the photo, each with its own style or the photo kept.
 *
 * The painting is a label map (one byte per pixel: region 0 to 3) at the photo's
 * size, or smaller with the same aspect ratio for large photos; the canvas shows it
 * in each region's colour over the photo and scales to the page's width. The
 * colours are the stylesheet's (the swatches beside the regions). On submit the
 * map goes into the form's "mask" file input as a greyscale PNG, one 8-bit channel
 * whose values are the regions, the format the API and the command line take too;
 * with nothing painted no mask is sent and the transfer is as without regions.
 * "region_styles" says which style each region takes, region 0 first ("2,1,keep").
 */
(function () {
  "use strict";

  var MAX_SIDE = 1024;
  var UNDO_DEPTH = 20;
  var OVERLAY_ALPHA = 140;
  var SLOTS = ["", "_2", "_3", "_4"];

  // --- A greyscale PNG of a label map ------------------------------------

  var CRC_TABLE = (function () {
    var table = new Uint32Array(256);
    for (var n = 0; n < 256; n += 1) {
      var c = n;
      for (var k = 0; k < 8; k += 1) {
        c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      table[n] = c >>> 0;
    }
    return table;
  }());

  function crc32(bytes) {
    var crc = 0xffffffff;
    for (var i = 0; i < bytes.length; i += 1) {
      crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    }
    return (crc ^ 0xffffffff) >>> 0;
  }

  function chunk(type, data) {
    var bytes = new Uint8Array(12 + data.length);
    var view = new DataView(bytes.buffer);
    view.setUint32(0, data.length);
    for (var i = 0; i < 4; i += 1) {
      bytes[4 + i] = type.charCodeAt(i);
    }
    bytes.set(data, 8);
    view.setUint32(8 + data.length, crc32(bytes.subarray(4, 8 + data.length)));
    return bytes;
  }

  // zlib with stored (uncompressed) blocks, for browsers without CompressionStream.
  function storedZlib(raw) {
    var blocks = Math.max(1, Math.ceil(raw.length / 65535));
    var out = new Uint8Array(2 + raw.length + 5 * blocks + 4);
    var view = new DataView(out.buffer);
    out[0] = 0x78;
    out[1] = 0x01;
    var at = 2;
    for (var block = 0; block < blocks; block += 1) {
      var part = raw.subarray(block * 65535, Math.min(raw.length, (block + 1) * 65535));
      out[at] = block === blocks - 1 ? 1 : 0;
      view.setUint16(at + 1, part.length, true);
      view.setUint16(at + 3, ~part.length & 0xffff, true);
      out.set(part, at + 5);
      at += 5 + part.length;
    }
    var a = 1;
    var b = 0;
    for (var i = 0; i < raw.length; i += 1) {
      a = (a + raw[i]) % 65521;
      b = (b + a) % 65521;
    }
    view.setUint32(at, ((b << 16) | a) >>> 0);
    return Promise.resolve(out);
  }

  function zlib(raw) {
    if (typeof CompressionStream === "undefined") {
      return storedZlib(raw);
    }
    var stream = new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      return new Uint8Array(buffer);
    }, function () {
      return storedZlib(raw);
    });
  }

  function greyPng(labels, width, height) {
    var raw = new Uint8Array((width + 1) * height);
    for (var y = 0; y < height; y += 1) {
      raw.set(labels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);  // filter byte 0: none
    }
    var header = new Uint8Array(13);
    var view = new DataView(header.buffer);
    view.setUint32(0, width);
    view.setUint32(4, height);
    header[8] = 8;  // bits per sample; colour type 0 (grey), no interlace
    return zlib(raw).then(function (compressed) {
      var signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
      return new Blob([signature, chunk("IHDR", header), chunk("IDAT", compressed), chunk("IEND", new Uint8Array(0))],
                      { type: "image/png" });
    });
  }

  // --- The painter ---------------------------------------------------------

  function colourOf(swatch) {
    var parts = (getComputedStyle(swatch).backgroundColor.match(/[\d.]+/g) || [0, 0, 0]).map(Number);
    return parts.slice(0, 3);
  }

  // The painting a slot's preset control (a select, or radio buttons) has chosen, or null.
  function presetName(preset) {
    if (!preset) {
      return null;
    }
    if (preset.tagName === "SELECT") {
      return preset.value && !preset.disabled ? preset.options[preset.selectedIndex].text : null;
    }
    var radios = preset.tagName === "INPUT" ? [preset] : Array.prototype.slice.call(preset);
    var checked = radios.filter(function (radio) {
      return radio.checked && !radio.disabled;
    })[0];
    return checked ? checked.getAttribute("data-preset-name") : null;
  }

  function setupPainter(form, section) {
    var photoInput = form.querySelector("input[name='content_image']");
    var maskInput = section.querySelector("input[name='mask']");
    var stylesInput = section.querySelector("input[name='region_styles']");
    var painter = section.querySelector("#regions-painter");
    var openButton = section.querySelector("#regions-open");
    var waiting = section.querySelector("[data-regions-waiting]");
    var summary = section.querySelector("#regions-summary");
    var undoButton = section.querySelector("#regions-undo");
    var brush = section.querySelector("#regions-brush");
    var brushValue = section.querySelector("#regions-brush-value");
    var image = section.querySelector("[data-regions-image]");
    var canvas = section.querySelector("#regions-canvas");
    var context = canvas.getContext("2d");
    var selects = Array.prototype.slice.call(section.querySelectorAll("[data-region-style]"));
    var colours = Array.prototype.map.call(section.querySelectorAll("[data-region-swatch]"), colourOf);
    var sourceStyles = (section.getAttribute("data-source-styles") || "").split("|").filter(Boolean);
    var pendingMask = section.getAttribute("data-regions-mask");
    var assigned = (stylesInput.value || "").split(",").filter(Boolean);
    var state = { labels: null, width: 0, height: 0, undo: [], version: 0, sent: 0, drawing: null, queued: false };
    var photoUrl = null;

    function tool() {
      return section.querySelector("input[name='regions_tool']:checked").value;
    }

    function paintValue() {
      return tool() === "eraser" ? 0 : Number(section.querySelector("input[name='regions_paint']:checked").value);
    }

    function highestRegion() {
      var highest = 0;
      for (var i = 0; i < state.labels.length && highest < 3; i += 1) {
        if (state.labels[i] > highest) {
          highest = state.labels[i];
        }
      }
      return highest;
    }

    // The styles the form will send, in order, as the server numbers them (see submission.style_choices).
    function chosenStyles() {
      var names = [];
      SLOTS.forEach(function (suffix) {
        var file = form.elements["style_image" + suffix];
        var preset = presetName(form.elements["style_preset" + suffix]);
        if (file && !file.disabled && file.files && file.files.length) {
          names.push(file.files[0].name);
        } else if (preset) {
          names.push(preset);
        }
      });
      return names.length ? names : (sourceStyles.length ? sourceStyles : ["the chosen painting"]);
    }

    function fillSelects() {
      var names = chosenStyles();
      selects.forEach(function (select, region) {
        var wanted = assigned[region] || String(Math.min(region + 1, names.length));
        select.textContent = "";
        names.forEach(function (name, index) {
          select.add(new Option("Style " + (index + 1) + ": " + name, String(index + 1)));
        });
        select.add(new Option("Keep the photo", "keep"));
        select.value = wanted;
        if (select.value !== wanted) {
          select.value = "1";
        }
        assigned[region] = select.value;
      });
    }

    function render() {
      state.queued = false;
      var pixels = context.createImageData(state.width, state.height);
      var data = pixels.data;
      for (var i = 0; i < state.labels.length; i += 1) {
        var label = state.labels[i];
        if (label) {
          var colour = colours[label];
          data[4 * i] = colour[0];
          data[4 * i + 1] = colour[1];
          data[4 * i + 2] = colour[2];
          data[4 * i + 3] = OVERLAY_ALPHA;
        }
      }
      context.putImageData(pixels, 0, 0);
    }

    function redraw() {
      if (!state.queued) {
        state.queued = true;
        window.requestAnimationFrame(render);
      }
    }

    // What the form sends: region_styles now; the mask on submit (see sendMask).
    function changed() {
      state.version += 1;
      var regions = highestRegion() + 1;
      var painted = regions > 1;
      stylesInput.value = painted ? assigned.slice(0, regions).join(",") : "";
      if (!painted) {
        maskInput.value = "";
      }
      undoButton.disabled = state.undo.length === 0;
      summary.textContent = painted ? regions + " regions: " + assigned.slice(0, regions).map(function (style, region) {
        return "region " + (region + 1) + " " + (style === "keep" ? "keeps the photo" : "style " + style);
      }).join(", ") + "." : "";
      redraw();
    }

    function remember() {
      state.undo.push(state.labels.slice());
      if (state.undo.length > UNDO_DEPTH) {
        state.undo.shift();
      }
    }

    function stamp(x, y, radius, value) {
      var top = Math.max(0, Math.floor(y - radius));
      var bottom = Math.min(state.height - 1, Math.ceil(y + radius));
      for (var row = top; row <= bottom; row += 1) {
        var half = Math.sqrt(Math.max(0, radius * radius - (row - y) * (row - y)));
        var left = Math.max(0, Math.round(x - half));
        var right = Math.min(state.width - 1, Math.round(x + half));
        if (left <= right) {
          state.labels.fill(value, row * state.width + left, row * state.width + right + 1);
        }
      }
    }

    function line(from, to, radius, value) {
      var steps = Math.max(1, Math.ceil(Math.hypot(to.x - from.x, to.y - from.y) / Math.max(1, radius / 2)));
      for (var step = 1; step <= steps; step += 1) {
        stamp(from.x + (to.x - from.x) * step / steps, from.y + (to.y - from.y) * step / steps, radius, value);
      }
    }

    // Flood fill of the clicked pixel's region (4-connected), row by row.
    function fill(x, y, value) {
      var width = state.width;
      var labels = state.labels;
      var target = labels[y * width + x];
      if (target === value) {
        return;
      }
      var stack = [[x, y]];
      while (stack.length) {
        var point = stack.pop();
        var left = point[0];
        var row = point[1];
        while (left > 0 && labels[row * width + left - 1] === target) {
          left -= 1;
        }
        var above = false;
        var below = false;
        for (var column = left; column < width && labels[row * width + column] === target; column += 1) {
          labels[row * width + column] = value;
          if (row > 0) {
            var up = labels[(row - 1) * width + column] === target;
            if (up && !above) {
              stack.push([column, row - 1]);
            }
            above = up;
          }
          if (row < state.height - 1) {
            var down = labels[(row + 1) * width + column] === target;
            if (down && !below) {
              stack.push([column, row + 1]);
            }
            below = down;
          }
        }
      }
    }

    function at(event) {
      var box = canvas.getBoundingClientRect();
      return { x: (event.clientX - box.left) * state.width / box.width,
               y: (event.clientY - box.top) * state.height / box.height };
    }

    function brushRadius() {
      return Number(brush.value) / 2 * state.width / canvas.getBoundingClientRect().width;
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (!state.labels || (event.pointerType === "mouse" && event.button !== 0)) {
        return;
      }
      event.preventDefault();
      remember();
      var point = at(event);
      if (tool() === "fill") {
        fill(Math.min(state.width - 1, Math.max(0, Math.floor(point.x))),
             Math.min(state.height - 1, Math.max(0, Math.floor(point.y))), paintValue());
        changed();
        return;
      }
      canvas.setPointerCapture(event.pointerId);
      state.drawing = { id: event.pointerId, last: point, value: paintValue(), radius: brushRadius() };
      stamp(point.x, point.y, state.drawing.radius, state.drawing.value);
      redraw();
    });

    canvas.addEventListener("pointermove", function (event) {
      var drawing = state.drawing;
      if (!drawing || drawing.id !== event.pointerId) {
        return;
      }
      var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      (events.length ? events : [event]).forEach(function (each) {
        var point = at(each);
        line(drawing.last, point, drawing.radius, drawing.value);
        drawing.last = point;
      });
      redraw();
    });

    function endStroke(event) {
      if (state.drawing && state.drawing.id === event.pointerId) {
        state.drawing = null;
        changed();
      }
    }
    ["pointerup", "pointercancel", "lostpointercapture"].forEach(function (type) {
      canvas.addEventListener(type, endStroke);
    });

    function undo() {
      if (state.undo.length) {
        state.labels = state.undo.pop();
        changed();
      }
    }

    undoButton.addEventListener("click", undo);
    section.querySelector("#regions-clear").addEventListener("click", function () {
      remember();
      state.labels.fill(0);
      changed();
    });
    painter.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
        event.preventDefault();
        undo();
      }
    });
    brush.addEventListener("input", function () {
      brushValue.textContent = brush.value + " px";
    });
    selects.forEach(function (select, region) {
      select.addEventListener("change", function () {
        assigned[region] = select.value;
        changed();
      });
    });

    function setOpen(open) {
      painter.hidden = !open;
      openButton.setAttribute("aria-expanded", open ? "true" : "false");
      openButton.textContent = open ? "Hide the painter" : (highestRegion() ? "Edit regions" : "Paint regions");
      if (open) {
        fillSelects();
        changed();
      }
    }
    openButton.addEventListener("click", function () {
      setOpen(painter.hidden);
    });
    section.querySelector("#regions-done").addEventListener("click", function () {
      setOpen(false);
      openButton.focus();
    });

    // The label map of a stored mask (a re-run, whose painter opens with it): drawn at the map's size
    // without smoothing, the value in each channel.
    function loadMask(url) {
      var mask = new Image();
      mask.onload = function () {
        var scratch = document.createElement("canvas");
        scratch.width = state.width;
        scratch.height = state.height;
        var drawing = scratch.getContext("2d");
        drawing.imageSmoothingEnabled = false;
        drawing.drawImage(mask, 0, 0, state.width, state.height);
        var data = drawing.getImageData(0, 0, state.width, state.height).data;
        for (var i = 0; i < state.labels.length; i += 1) {
          state.labels[i] = Math.min(3, data[4 * i]);
        }
        setOpen(true);
      };
      mask.src = url;
    }

    function mapSize(width, height) {
      var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
      var mapWidth = Math.max(1, Math.round(width * scale));
      var mapHeight = Math.max(1, Math.round(height * scale));
      // A very thin photo keeps its own size rather than an aspect ratio the server would refuse.
      if (Math.abs(mapWidth / mapHeight - width / height) > 0.005 * width / height) {
        return [width, height];
      }
      return [mapWidth, mapHeight];
    }

    function usePhoto(url, mask) {
      image.onload = function () {
        var size = mapSize(image.naturalWidth, image.naturalHeight);
        state.width = canvas.width = size[0];
        state.height = canvas.height = size[1];
        state.labels = new Uint8Array(size[0] * size[1]);
        state.undo = [];
        waiting.hidden = true;
        openButton.hidden = false;
        changed();
        if (mask) {
          loadMask(mask);
        }
      };
      image.src = url;
    }

    // A clip's regions are painted on its first frame (the server reads the mask against that frame).
    function useFirstFrame(clipUrl) {
      var video = document.createElement("video");
      video.muted = true;
      video.preload = "auto";
      video.addEventListener("loadeddata", function () {
        var frame = document.createElement("canvas");
        frame.width = video.videoWidth;
        frame.height = video.videoHeight;
        frame.getContext("2d").drawImage(video, 0, 0);
        URL.revokeObjectURL(clipUrl);
        frame.toBlob(function (still) {
          photoUrl = URL.createObjectURL(still);
          usePhoto(photoUrl, null);
        }, "image/png");
      }, { once: true });
      video.src = clipUrl;
    }

    function photoChanged() {
      var file = photoInput.files && photoInput.files[0];
      if (photoUrl) {
        URL.revokeObjectURL(photoUrl);
        photoUrl = null;
      }
      if (file && (file.type.indexOf("video/") === 0 || /\.(mp4|mov|webm|mkv)$/i.test(file.name))) {
        useFirstFrame(URL.createObjectURL(file));
      } else if (file) {
        photoUrl = URL.createObjectURL(file);
        usePhoto(photoUrl, null);
      }
    }

    photoInput.addEventListener("change", photoChanged);
    form.addEventListener("change", function (event) {
      if (/^style_(image|preset)/.test(event.target.name || "") && state.labels) {
        fillSelects();
        changed();
      }
    });
    if (photoInput.files && photoInput.files.length) {
      photoChanged();
    } else if (section.getAttribute("data-regions-photo")) {
      usePhoto(section.getAttribute("data-regions-photo"), pendingMask);
    }

    // Before the form is sent, the painting goes into the mask input (encoding is asynchronous, so the
    // first submit waits for it and sends the form again). Captured on the document: before upload.js.
    document.addEventListener("submit", function (event) {
      if (event.target !== form || !state.labels || state.sent === state.version || highestRegion() === 0 ||
          section.querySelector("[data-needs='regions']").disabled) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      var version = state.version;
      var submitter = event.submitter;
      greyPng(state.labels, state.width, state.height).then(function (png) {
        var files = new DataTransfer();
        files.items.add(new File([png], "regions.png", { type: "image/png" }));
        maskInput.files = files.files;
        state.sent = version;
        form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      });
    }, true);
  }

  function init() {
    var form = document.querySelector("form[data-stylize-form]");
    var section = form && form.querySelector("[data-regions]");
    if (section) {
      setupPainter(form, section);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
