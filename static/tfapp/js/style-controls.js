/*
 * Upload page: preset paintings, style blending and the live values of the controls.
 *
 * Everything here works without the script too: the presets are radio buttons named
 * style_preset, the other slots have a plain <select>, and the weights are number
 * inputs. The script keeps each slot to one style (a chosen file clears the slot's
 * preset and the other way round; the server would prefer the file anyway), shows the
 * chosen painting in the slot's drop zone, pairs each weight with a slider and says
 * what share of the blend each style gets.
 */
(function () {
  "use strict";

  function forEach(list, callback) {
    Array.prototype.forEach.call(list, callback);
  }

  // The paintings' details, by primary key, read from the preset tiles.
  function readPresets(form) {
    var presets = {};
    forEach(form.querySelectorAll("[data-preset-picker] input[type='radio']"), function (radio) {
      presets[radio.value] = {
        name: radio.getAttribute("data-preset-name"),
        detail: radio.getAttribute("data-preset-detail"),
        image: radio.getAttribute("data-preset-image")
      };
    });
    return presets;
  }

  // The preset control of slot 1 is the radio grid; the others are selects inside their slot.
  function radioControl(picker) {
    var radios = picker.querySelectorAll("input[type='radio']");
    var clearButton = picker.querySelector("[data-preset-clear]");
    return {
      value: function () {
        var checked = picker.querySelector("input[type='radio']:checked");
        return checked ? checked.value : "";
      },
      clear: function () {
        forEach(radios, function (radio) {
          radio.checked = false;
        });
      },
      refresh: function () {
        forEach(radios, function (radio) {
          radio.closest(".preset-tile").classList.toggle("is-selected", radio.checked);
        });
        if (clearButton) {
          clearButton.hidden = !this.value();
        }
      },
      listen: function (callback) {
        picker.addEventListener("change", callback);
      }
    };
  }

  function selectControl(select) {
    return {
      value: function () {
        return select.value;
      },
      clear: function () {
        select.value = "";
      },
      refresh: function () {},
      listen: function (callback) {
        select.addEventListener("change", callback);
      }
    };
  }

  function createSlot(element, preset, presets, onChange) {
    var zone = element.querySelector("[data-dropzone]");
    var input = zone.querySelector("input[type='file']");

    function hasFile() {
      return Boolean(input.files && input.files.length);
    }

    function showPreset() {
      var value = preset ? preset.value() : "";
      if (preset) {
        preset.refresh();
      }
      zone.dispatchEvent(new CustomEvent("restyle:choice", { detail: value ? presets[value] || { name: "" } : null }));
    }

    input.addEventListener("change", function () {
      if (hasFile() && preset && preset.value()) {
        preset.clear();
        showPreset();
      }
      onChange();
    });
    if (preset) {
      preset.listen(function () {
        if (preset.value() && hasFile()) {
          input.value = "";
          input.dispatchEvent(new Event("change", { bubbles: true }));
        }
        showPreset();
        onChange();
      });
      showPreset();
    }

    return {
      number: element.getAttribute("data-style-slot"),
      hasCurrent: element.hasAttribute("data-has-current"),
      isChosen: function () {
        return hasFile() || Boolean(preset && preset.value());
      },
      hasErrors: function () {
        return Boolean(element.querySelector(".errorlist"));
      }
    };
  }

  // A click on the painting that is already chosen takes the choice back.
  function makeRadiosToggle(picker) {
    var wasChecked = false;
    picker.addEventListener("pointerdown", function (event) {
      var tile = event.target.closest(".preset-tile");
      wasChecked = Boolean(tile && tile.querySelector("input").checked);
    });
    // A click on the tile's picture or caption reaches the radio as a second click event.
    picker.addEventListener("click", function (event) {
      var radio = event.target;
      if (radio.type !== "radio") {
        return;
      }
      if (wasChecked && radio.checked) {
        radio.checked = false;
        radio.dispatchEvent(new Event("change", { bubbles: true }));
      }
      wasChecked = false;
    });
    var clearButton = picker.querySelector("[data-preset-clear]");
    if (clearButton) {
      clearButton.addEventListener("click", function () {
        var checked = picker.querySelector("input[type='radio']:checked");
        if (checked) {
          checked.checked = false;
          checked.dispatchEvent(new Event("change", { bubbles: true }));
        }
        picker.querySelector("input[type='radio']").focus();
      });
    }
  }

  // Each weight: a number input (the form field) and a slider that follows it.
  function createWeight(element, onChange) {
    var number = element.querySelector("input[type='number']");
    var range = element.querySelector("[data-weight-range]");
    var share = element.querySelector("[data-weight-share]");
    if (range) {
      range.hidden = false;
      range.addEventListener("input", function () {
        number.value = range.value;
        onChange();
      });
    }
    number.addEventListener("input", function () {
      if (range && number.value !== "") {
        range.value = number.value;
      }
      onChange();
    });
    return {
      number: element.getAttribute("data-weight-slot"),
      value: function () {
        var value = parseFloat(number.value);
        return isNaN(value) || value < 0 ? 0 : value;
      },
      showShare: function (text, active) {
        if (share) {
          share.textContent = text;
          share.classList.toggle("is-active", active);
        }
      }
    };
  }

  // Which slots the server will use: the chosen ones, else on a re-run the earlier transfer's.
  function activeSlots(slots, hasSource) {
    var chosen = slots.filter(function (slot) {
      return slot.isChosen();
    });
    if (chosen.length) {
      return chosen.map(function (slot) { return slot.number; });
    }
    if (hasSource) {
      return slots.filter(function (slot) {
        return slot.hasCurrent;
      }).map(function (slot) { return slot.number; });
    }
    return ["1"];
  }

  function describeShares(weights, active, badge) {
    var used = weights.filter(function (weight) {
      return active.indexOf(weight.number) !== -1;
    });
    var total = used.reduce(function (sum, weight) { return sum + weight.value(); }, 0);
    weights.forEach(function (weight) {
      if (used.indexOf(weight) === -1) {
        weight.showShare("Not used: no style chosen", false);
      } else if (total <= 0) {
        weight.showShare("Give a style a weight above zero", false);
      } else if (used.length === 1) {
        weight.showShare("The only style", true);
      } else {
        weight.showShare(Math.round(100 * weight.value() / total) + " % of the blend", weight.value() > 0);
      }
    });
    if (badge) {
      badge.textContent = used.length + " styles";
      badge.hidden = used.length < 2;
    }
  }

  // The blend section's first card shows a small copy of what the slot 1 drop zone shows.
  function mirrorFirstStyle(form) {
    var mirror = form.querySelector("[data-slot-mirror]");
    var zone = form.querySelector("[data-style-slot='1'] [data-dropzone]");
    if (!mirror || !zone) {
      return;
    }
    var shown = Array.prototype.filter.call(zone.querySelectorAll("img"), function (image) {
      return image.getAttribute("src") && !image.closest("[hidden]") && !image.hidden;
    })[0];
    mirror.hidden = !shown;
    if (shown) {
      mirror.src = shown.src;
    }
  }

  function setupStrength(form) {
    var strength = form.querySelector("input[type='range'][name='strength']");
    var output = form.querySelector("[data-strength-output]");
    if (!strength || !output) {
      return;
    }
    strength.addEventListener("input", function () {
      output.textContent = strength.value + " %";
    });
  }

  function setupForm(form) {
    var presets = readPresets(form);
    var picker = form.querySelector("[data-preset-picker]");
    var blend = form.querySelector("[data-blend]");
    var hasSource = form.hasAttribute("data-has-source");
    var slots = [];
    var weights = [];

    function update() {
      describeShares(weights, activeSlots(slots, hasSource), blend && blend.querySelector("[data-blend-count]"));
      mirrorFirstStyle(form);
    }

    forEach(form.querySelectorAll("[data-style-slot]"), function (element) {
      var select = element.querySelector("select");
      var preset = element.getAttribute("data-style-slot") === "1"
        ? (picker ? radioControl(picker) : null)
        : (select ? selectControl(select) : null);
      slots.push(createSlot(element, preset, presets, update));
    });
    if (picker) {
      makeRadiosToggle(picker);
    }
    forEach(form.querySelectorAll("[data-weight-slot]"), function (element) {
      weights.push(createWeight(element, update));
    });
    // Open the blend section when it already holds something (a re-shown form, a blended
    // re-run) or when a weight of 0 there is why the server refused the form.
    var active = activeSlots(slots, hasSource);
    var extraInUse = slots.some(function (slot) {
      return slot.number !== "1" && (slot.isChosen() || slot.hasErrors());
    });
    var zeroWeight = weights.some(function (weight) {
      return active.indexOf(weight.number) !== -1 && weight.value() === 0;
    });
    if (blend && (extraInUse || zeroWeight)) {
      blend.open = true;
    }
    setupStrength(form);
    update();
  }

  function init() {
    forEach(document.querySelectorAll("form[data-stylize-form]"), setupForm);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
