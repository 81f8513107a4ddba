/*
 * Result page: the regions painted for this transfer, drawn over the result in each
 * region's colour (the legend's swatches, from the stylesheet), with a button that
 * hides and shows them. The mask is the stored greyscale PNG whose values are the regions.
 */
(function () {
  "use strict";

  var OVERLAY_ALPHA = 140;
  var canvas = document.getElementById("regions-overlay");
  var toggle = document.getElementById("regions-toggle");
  if (!canvas || !toggle) {
    return;
  }

  var colours = {};
  document.querySelectorAll("#regions-legend [data-region-swatch]").forEach(function (swatch) {
    var parts = (getComputedStyle(swatch).backgroundColor.match(/[\d.]+/g) || [0, 0, 0]).map(Number);
    colours[swatch.getAttribute("data-region-swatch")] = parts.slice(0, 3);
  });

  var mask = new Image();
  mask.onload = function () {
    canvas.width = mask.naturalWidth;
    canvas.height = mask.naturalHeight;
    var context = canvas.getContext("2d");
    context.drawImage(mask, 0, 0);
    var pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    var data = pixels.data;
    for (var i = 0; i < data.length; i += 4) {
      var colour = data[i] ? colours[data[i]] : null;
      data[i + 3] = colour ? OVERLAY_ALPHA : 0;
      if (colour) {
        data[i] = colour[0];
        data[i + 1] = colour[1];
        data[i + 2] = colour[2];
      }
    }
    context.putImageData(pixels, 0, 0);
    toggle.hidden = false;
  };
  mask.src = canvas.getAttribute("data-regions-mask");

  toggle.addEventListener("click", function () {
    var shown = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", shown ? "true" : "false");
    toggle.textContent = shown ? "Hide the regions" : "Show the regions";
    canvas.hidden = !shown;
  });
}());
