// The method choice on the upload page: each method's declarations (from the server, in
// #method-data) switch the controls it cannot honour off, with its reason, and give the
// expected time for the chosen photo at the chosen output size, or for the chosen clip
// (its frames, from its duration, at the size it will be painted; #clip-estimate).
(function () {
  "use strict";
  var form = document.getElementById("transfer-form");
  var data = document.getElementById("method-data");
  if (!form || !data) return;
  var methods = JSON.parse(data.textContent);
  var clipData = document.getElementById("clip-estimate");
  // {overhead_per_megapixel, max_side, assumed_fps}: tfapp.video.estimate_seconds's terms.
  var clipTerms = clipData ? JSON.parse(clipData.textContent) : null;
  var CLIP_NAME = /\.(mp4|mov|webm|mkv)$/i;
  var photoSize = null; // [width, height] of the chosen photo, once known
  var clip = null; // {size: [width, height], frames: n} of the chosen clip, once known

  function chosen() {
    var checked = form.querySelector("input[name='method']:checked");
    return checked ? checked.value : Object.keys(methods)[0];
  }

  function outputSize() {
    var select = form.querySelector("select[name='output_size']");
    var longSide = select ? parseInt(select.value, 10) : 512;
    if (clip) {
      // As tfapp.video.output_size: never enlarged, at most the clip limit's side, each side even.
      var clipScale = Math.min(1, Math.min(longSide, clipTerms.max_side) / Math.max(clip.size[0], clip.size[1]));
      return clip.size.map(function (side) { return Math.max(2, Math.floor(side * clipScale / 2) * 2); });
    }
    var size = photoSize || [4, 3];
    var scale = photoSize ? Math.min(1, longSide / Math.max(size[0], size[1])) : longSide / 4;
    return [Math.round(size[0] * scale), Math.round(size[1] * scale)];
  }

  function seconds(method, quality) {
    var fit = methods[method].estimates[quality] || methods[method].estimates[""] ||
      methods[method].estimates[Object.keys(methods[method].estimates)[0]];
    var size = outputSize();
    var megapixels = size[0] * size[1] / 1e6;
    // [fixed s, s per megapixel, fewest s]: the server's Method.estimate_fit, the model its form checks with.
    var picture = Math.max(fit[2], fit[0] + fit[1] * megapixels);
    return clip ? clip.frames * (picture + clipTerms.overhead_per_megapixel * megapixels) : picture;
  }

  function forWhat() {
    if (clip) return " for your clip (" + clip.frames + " frames)";
    return photoSize ? " for your photo" : " for a typical photo";
  }

  function describe(value) {
    if (value < 1) return "under a second";
    if (value < 90) return "about " + Math.round(value) + " s";
    return "about " + Math.round(value / 60) + " min";
  }

  function showTimes() {
    var quality = form.querySelector("select[name='quality']");
    Object.keys(methods).forEach(function (name) {
      var label = form.querySelector("[data-method-time='" + name + "']");
      if (!label || !methods[name].available) return;
      var qualities = methods[name].capabilities.qualities;
      var picked = quality && qualities.indexOf(quality.value) >= 0 ? quality.value : qualities[1] || qualities[0] || "";
      if (clip && !methods[name].capabilities.video) {
        label.textContent = "not for clips";
        return;
      }
      label.textContent = describe(seconds(name, picked)) + forWhat() + (qualities.length ? " (" + picked + ")" : "");
    });
  }

  function apply() {
    var method = methods[chosen()];
    var can = method.capabilities;
    form.querySelectorAll("[data-reason-for]").forEach(function (note) {
      var control = note.getAttribute("data-reason-for");
      note.hidden = can[control];
      note.textContent = method.reasons[control] || "Not available with this method.";
    });
    var blend = form.querySelector("[data-needs='blending']");
    if (blend) blend.disabled = !can.blending;
    var regions = form.querySelector("[data-needs='regions']");
    if (regions) regions.disabled = !can.regions;
    var strength = form.querySelector("input[name='strength']");
    if (strength) strength.disabled = !can.strength;
    var strengthHelp = form.querySelector("[data-strength-help]");
    if (strengthHelp) {
      strengthHelp.textContent = method.strength_help;
      strengthHelp.hidden = !can.strength || !method.strength_help;
    }
    var colours = form.querySelector("input[name='preserve_colours']");
    if (colours) colours.disabled = !can.preserve_colours;
    var styleSize = form.querySelector("select[name='style_size']");
    if (styleSize) styleSize.disabled = !can.style_scale;
    form.querySelectorAll("[data-style-slot] input, [data-preset-picker] input").forEach(function (input) {
      input.disabled = !can.style_input;
    });
    // A trained style needs no style image; a re-run (data-reuses-source) never does.
    var firstStyle = form.querySelector("[data-style-slot='1'] [data-dropzone]");
    if (firstStyle) {
      firstStyle.toggleAttribute("data-optional", !can.style_input || firstStyle.hasAttribute("data-reuses-source"));
    }
    var quality = form.querySelector("select[name='quality']");
    if (quality) quality.disabled = can.qualities.length === 0;
    var qualityControl = form.querySelector("[data-needs='qualities']");
    if (qualityControl) qualityControl.hidden = can.qualities.length === 0;
    showTimes();
  }

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "content_image" && target.files && target.files[0]) {
      var file = target.files[0];
      var url = URL.createObjectURL(file);
      photoSize = clip = null;
      if (clipTerms && (file.type.indexOf("video/") === 0 || CLIP_NAME.test(file.name))) {
        var video = document.createElement("video");
        video.preload = "metadata";
        video.muted = true;
        video.onloadedmetadata = function () {
          // Browsers do not tell a clip's frame rate: the estimate assumes a common one.
          clip = {size: [video.videoWidth, video.videoHeight],
                  frames: Math.max(1, Math.round(video.duration * clipTerms.assumed_fps))};
          URL.revokeObjectURL(url);
          showTimes();
        };
        video.src = url;
      } else {
        var image = new Image();
        image.onload = function () {
          photoSize = [image.naturalWidth, image.naturalHeight];
          URL.revokeObjectURL(url);
          showTimes();
        };
        image.src = url;
      }
      showTimes();
    }
    if (target.name === "method" || target.name === "quality" || target.name === "output_size") apply();
  });
  apply();
})();
