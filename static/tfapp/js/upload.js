/*
 * Upload page: file drop zones with previews, and a progress overlay on submit.
 *
 * Each [data-dropzone] is a <label> wrapping a real, visually hidden
 * <input type="file">, so clicking and the keyboard open the file picker without
 * any script; this file adds drag and drop, the preview and client-side hints.
 * The server validates every upload again; these checks only save a round trip.
 *
 * A zone can also show a choice that is not a file (a preset painting): another
 * script sends it a "restyle:choice" event whose detail is {name, detail, image},
 * or null to take it away. style-controls.js does that.
 */
(function () {
  "use strict";

  var SUPPORTED_FORMATS = "Choose a JPEG, PNG, WebP, GIF, BMP or TIFF file.";
  var CLIP_NAME = /\.(mp4|mov|webm|mkv)$/i;

  // A clip goes in the photo's field; an animated GIF or WebP is told apart by the server.
  function isClip(file) {
    return file.type.indexOf("video/") === 0 || CLIP_NAME.test(file.name);
  }

  function formatBytes(bytes) {
    if (bytes < 1024) {
      return bytes + " bytes";
    }
    if (bytes < 1024 * 1024) {
      return (bytes / 1024).toFixed(1) + " KB";
    }
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function carriesFiles(event) {
    var types = event.dataTransfer ? event.dataTransfer.types : null;
    return Boolean(types) && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  // A file the browser could not type (empty MIME type) is left to the server.
  function isSupportedImage(file, input) {
    if (isClip(file)) {
      return (input.accept || "").indexOf("video/") !== -1;
    }
    if (!file.type) {
      return true;
    }
    if (file.type.indexOf("image/") !== 0) {
      return false;
    }
    var accepted = (input.accept || "").split(",").map(function (type) {
      return type.trim();
    }).filter(Boolean);
    return accepted.length === 0 || accepted.indexOf(file.type) !== -1 || accepted.indexOf("image/*") !== -1;
  }

  function createDropzone(zone, maxBytes, maxClipBytes) {
    var input = zone.querySelector('input[type="file"]');
    if (!input) {
      return null;
    }
    var field = zone.closest(".field") || zone.parentElement;
    var hint = field.querySelector("[data-dropzone-hint]");
    var empty = zone.querySelector("[data-dropzone-empty]");
    var preview = zone.querySelector("[data-dropzone-preview]");
    var image = zone.querySelector("[data-preview-image]");
    var noPreview = zone.querySelector("[data-preview-missing]");
    var fileName = zone.querySelector("[data-file-name]");
    var fileSize = zone.querySelector("[data-file-size]");
    var choiceBox = zone.querySelector("[data-dropzone-choice]");
    var objectUrl = null;
    var dragDepth = 0;
    var fileShown = false;
    var choice = null;

    // One of three things shows: the chosen file, else the chosen preset, else the empty prompt.
    function render() {
      var showChoice = !fileShown && Boolean(choice && choiceBox);
      preview.hidden = !fileShown;
      if (choiceBox) {
        choiceBox.hidden = !showChoice;
      }
      empty.hidden = fileShown || showChoice;
      zone.classList.toggle("has-file", fileShown || showChoice);
    }

    function showChoice(detail) {
      choice = detail || null;
      if (choice && choiceBox) {
        choiceBox.querySelector("[data-choice-image]").src = choice.image || "";
        choiceBox.querySelector("[data-choice-name]").textContent = choice.name || "";
        var detailText = choiceBox.querySelector("[data-choice-detail]");
        if (detailText) {
          detailText.textContent = choice.detail || "";
        }
      }
      if (choice) {
        dismissServerErrors();
        showHint("");
      }
      render();
    }

    function showHint(message, kind) {
      if (!hint) {
        return;
      }
      hint.textContent = message || "";
      hint.className = "field-hint" + (kind ? " is-" + kind : "");
    }

    function clearPreview() {
      if (objectUrl) {
        URL.revokeObjectURL(objectUrl);
        objectUrl = null;
      }
      image.removeAttribute("src");
      fileShown = false;
      render();
    }

    function showPreview(file) {
      clearPreview();
      objectUrl = URL.createObjectURL(file);
      fileName.textContent = file.name;
      fileName.title = file.name;
      fileSize.textContent = formatBytes(file.size);
      image.hidden = false;
      noPreview.hidden = true;
      image.onload = function () {
        fileSize.textContent = formatBytes(file.size) + " · " + image.naturalWidth + " × " + image.naturalHeight + " px";
      };
      image.onerror = function () {
        image.hidden = true;
        noPreview.hidden = false;
      };
      image.src = objectUrl;
      fileShown = true;
      render();
    }

    // Errors the server rendered describe the previous upload, not the new choice.
    function dismissServerErrors() {
      field.classList.remove("field-invalid");
      Array.prototype.forEach.call(field.querySelectorAll(":scope > .errorlist"), function (errors) {
        errors.hidden = true;
      });
    }

    function update() {
      var file = input.files && input.files[0];
      if (!file) {
        clearPreview();
        showHint("");
        return;
      }
      dismissServerErrors();
      if (!isSupportedImage(file, input)) {
        input.value = "";
        clearPreview();
        showHint("“" + file.name + "” is not a supported image. " + SUPPORTED_FORMATS, "error");
        return;
      }
      showPreview(file);
      var limit = isClip(file) ? maxClipBytes : maxBytes;
      if (limit && file.size > limit) {
        showHint("This file is " + formatBytes(file.size) + "; the limit is " + formatBytes(limit) +
                 ", so the server will refuse it. Choose a smaller file.", "warning");
      } else {
        showHint("");
      }
    }

    function take(file) {
      try {
        var transfer = new DataTransfer();
        transfer.items.add(file);
        input.files = transfer.files;
      } catch (error) {
        showHint("This browser cannot accept a dropped file here; click the box to choose it instead.", "error");
        return;
      }
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function endDrag() {
      dragDepth = 0;
      zone.classList.remove("is-dragover");
    }

    zone.addEventListener("dragenter", function (event) {
      if (!carriesFiles(event)) {
        return;
      }
      event.preventDefault();
      dragDepth += 1;
      zone.classList.add("is-dragover");
    });
    zone.addEventListener("dragover", function (event) {
      if (!carriesFiles(event)) {
        return;
      }
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", function (event) {
      if (!carriesFiles(event)) {
        return;
      }
      dragDepth = Math.max(0, dragDepth - 1);
      if (dragDepth === 0) {
        zone.classList.remove("is-dragover");
      }
    });
    zone.addEventListener("drop", function (event) {
      if (!carriesFiles(event)) {
        return;
      }
      event.preventDefault();
      endDrag();
      var file = event.dataTransfer.files[0];
      if (file) {
        take(file);
      }
    });
    input.addEventListener("change", update);
    zone.addEventListener("restyle:choice", function (event) {
      showChoice(event.detail);
    });

    // Some browsers keep a chosen file across a reload; show it.
    if (input.files && input.files.length) {
      update();
    }

    return {
      element: zone,
      // A zone marked data-optional may stay empty (a re-run reuses the earlier files, and a
      // trained style needs no style image; the method choice marks that as it changes).
      isOptional: function () {
        return zone.hasAttribute("data-optional");
      },
      isStyle: Boolean(zone.closest("[data-style-slot]")),
      hasInput: function () {
        return Boolean((input.files && input.files.length) || choice);
      },
      flagMissing: function () {
        showHint(zone.getAttribute("data-missing-message") || "Choose a file to continue.", "error");
        field.classList.add("field-invalid");
      },
      focus: function () {
        zone.scrollIntoView({ block: "center", behavior: "smooth" });
        input.focus({ preventScroll: true });
      }
    };
  }

  // The zones to flag before sending: an empty photo zone, and the first style zone when no
  // slot has a style. On a re-run (data-has-source) the server fills in whatever is left empty.
  function missingZones(zones, hasSource) {
    if (hasSource) {
      return [];
    }
    var anyStyle = zones.some(function (zone) {
      return zone.isStyle && zone.hasInput();
    });
    return zones.filter(function (zone) {
      if (zone.isOptional() || zone.hasInput()) {
        return false;
      }
      return !(zone.isStyle && anyStyle);
    });
  }

  // The controls only a clip has (data-clip-only) show while the photo's field holds a clip,
  // or, with no new file chosen, when the transfer being re-run is a clip.
  function showClipControls(form) {
    var content = form.querySelector('input[name="content_image"]');
    var controls = form.querySelectorAll("[data-clip-only]");
    if (!content) {
      return;
    }
    content.addEventListener("change", function () {
      var file = content.files && content.files[0];
      var clip = file ? isClip(file) : form.hasAttribute("data-source-is-clip");
      Array.prototype.forEach.call(controls, function (control) {
        control.hidden = !clip;
      });
    });
  }

  function setupForm(form) {
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
    var maxClipBytes = parseInt(form.getAttribute("data-max-clip-bytes"), 10) || 0;
    var zones = Array.prototype.map.call(form.querySelectorAll("[data-dropzone]"), function (zone) {
      return createDropzone(zone, maxBytes, maxClipBytes);
    }).filter(Boolean);
    showClipControls(form);
    var button = form.querySelector('[type="submit"]');
    var overlay = form.querySelector(".progress-overlay");

    function setBusy(busy) {
      if (button && !button.hasAttribute("aria-disabled")) {
        button.disabled = busy;
      }
      if (overlay) {
        overlay.hidden = !busy;
      }
      form.setAttribute("aria-busy", busy ? "true" : "false");
    }

    form.addEventListener("submit", function (event) {
      if (form.getAttribute("aria-busy") === "true" || (button && button.disabled)) {
        event.preventDefault();
        return;
      }
      var missing = missingZones(zones, form.hasAttribute("data-has-source"));
      if (missing.length) {
        event.preventDefault();
        missing.forEach(function (zone) {
          zone.flagMissing();
        });
        missing[0].focus();
        return;
      }
      setBusy(true);
    });

    // Coming back with the Back button restores the page as it was left: busy.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        setBusy(false);
      }
    });
  }

  // A file dropped next to a zone would otherwise make the browser navigate to it.
  function guardStrayDrops() {
    ["dragover", "drop"].forEach(function (type) {
      document.addEventListener(type, function (event) {
        var insideZone = event.target instanceof Element && event.target.closest("[data-dropzone]");
        if (carriesFiles(event) && !insideZone) {
          event.preventDefault();
          event.dataTransfer.dropEffect = "none";
        }
      });
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-stylize-form]");
    if (!forms.length) {
      return;
    }
    Array.prototype.forEach.call(forms, setupForm);
    guardStrayDrops();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
