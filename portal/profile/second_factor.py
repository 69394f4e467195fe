"""Profile: two-step sign-in (authenticator app, recovery codes) and passkeys.

Changing them needs a proof of identity from the last 10 minutes on this session: the
"Confirm it's you" form (password, plus a code once the app is on) or a passkey. Everything
works without JavaScript except passkeys, which need the browser's WebAuthn API; their
endpoints speak JSON to static/passkeys.js."""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.client import Client
from portal.flows import FlowError, passkeys, reauth, totp
from portal.profile import bp
from portal.profile.forms import EmptyForm, ReauthForm, TotpConfirmForm
from portal.web import form_status, go

TWO_STEP = "#two-step"
PASSKEYS = "#passkeys"


def second_factor_forms() -> dict:
    return {"reauth_form": ReauthForm(formdata=None), "action_form": EmptyForm(formdata=None)}


def second_factor_context() -> dict:
    return {
        "passkey_list": passkeys.list_passkeys(current_user),
        "reauth_minutes": reauth.minutes_left(current_user.session),
    }


def _profile(anchor: str = TWO_STEP):
    return url_for("profile.show") + anchor


def _confirm_first():
    flash("Confirm it's you first: your password, and a code if you have two-step sign-in.", "info")
    return go(_profile())


def _recent() -> bool:
    return reauth.is_recent(current_user.session)


def _signed_out(error: FlowError):
    from portal.profile.views import _signed_out as sign_out

    return sign_out(error)


@bp.post("/profile/confirm")
@login_required
def reauthenticate():
    """ "Confirm it's you": the password (and a code once the app is on), good 10 minutes."""
    form = ReauthForm()
    if form.validate_on_submit():
        try:
            reauth.prove_identity(
                current_user,
                current_user.session,
                form.value("password"),
                Client.from_request(),
                code=form.value("code"),
            )
        except FlowError as error:
            if error.code == "session_ended":
                return _signed_out(error)
            form.show(error)
        else:
            return go(_profile())
    from portal.profile.views import _page

    return _page("reauth", form)


@bp.post("/profile/confirm/passkey/options")
@login_required
def reauth_passkey_options():
    challenge_id, options = passkeys.authentication_options(
        passkeys.REAUTH, current_user, current_user.session
    )
    return jsonify({"publicKey": options, "challenge_id": challenge_id})


@bp.post("/profile/confirm/passkey")
@login_required
def reauth_with_passkey():
    """ "Confirm it's you" with one of the account's passkeys (JSON from passkeys.js)."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        passkeys.confirm_identity_with_passkey(
            current_user,
            current_user.session,
            body.get("challenge_id"),
            body.get("credential"),
            Client.from_request(),
        )
    except FlowError as error:
        if error.code == "session_ended":
            return jsonify({"error": error.message, "redirect": url_for("auth.sign_in")}), 401
        return jsonify({"error": error.message}), 422
    return jsonify({"redirect": _profile()})


# -- authenticator app ------------------------------------------------------------------------


@bp.post("/profile/totp")
@login_required
def start_totp():
    """Begin setting up the authenticator app (after "Confirm it's you")."""
    if not _recent():
        return _confirm_first()
    try:
        totp.begin_setup(current_user, current_user.session, None, Client.from_request())
    except FlowError as error:
        flash(error.message, "error")
        return go(_profile())
    return go(url_for("profile.totp_setup"))


@bp.route("/profile/totp/setup", methods=["GET", "POST"])
@login_required
def totp_setup():
    """The QR code and the secret as text; the first code from the app turns it on."""
    pending = totp.pending_setup(current_user)
    if pending is None:
        return redirect(_profile())
    form = TotpConfirmForm()
    if form.validate_on_submit():
        try:
            codes = totp.confirm_setup(
                current_user, current_user.session, form.value("code"), Client.from_request()
            )
        except FlowError as error:
            form.show(error)
        else:
            return _show_recovery_codes(codes, "Two-step sign-in is on.")
    secret, uri = pending
    return render_template(
        "profile/totp_setup.html",
        form=form,
        qr_svg=totp.qr_svg(uri),
        secret=secret,
        secret_groups=[secret[i : i + 4] for i in range(0, len(secret), 4)],
        uri=uri,
    ), form_status(form)


def _show_recovery_codes(codes: list[str], heading: str):
    """Shown once: the page is never cached, and the codes are stored only hashed."""
    return render_template(
        "profile/recovery_codes.html",
        codes=codes,
        heading=heading,
        text="Portal recovery codes for {}\r\n\r\n{}\r\n".format(
            current_user.email, "\r\n".join(codes)
        ),
    )


@bp.post("/profile/totp/disable")
@login_required
def disable_totp():
    if not _recent():
        return _confirm_first()
    try:
        totp.disable(current_user, current_user.session, None, Client.from_request())
    except FlowError as error:
        flash(error.message, "error")
    else:
        flash("Two-step sign-in with the authenticator app is off.", "success")
    return go(_profile())


@bp.post("/profile/recovery-codes")
@login_required
def new_recovery_codes():
    """Ten new recovery codes; the old ones stop working."""
    if not _recent():
        return _confirm_first()
    try:
        codes = totp.new_recovery_codes(
            current_user, current_user.session, None, Client.from_request()
        )
    except FlowError as error:
        flash(error.message, "error")
        return go(_profile())
    return _show_recovery_codes(codes, "New recovery codes")


# -- passkeys ---------------------------------------------------------------------------------


def _json_error(message: str, status: int = 422, **extra):
    return jsonify({"error": message, **extra}), status


@bp.post("/profile/passkeys/options")
@login_required
def passkey_options():
    """Creation options for a new passkey (JSON), once this session confirmed it's you."""
    if not _recent():
        return _json_error(
            "Confirm it's you first (above), then add the passkey.", 403, reauth=True
        )
    try:
        options = passkeys.registration_options(
            current_user, current_user.session, None, Client.from_request()
        )
    except FlowError as error:
        return _json_error(error.message)
    return jsonify({"publicKey": options})


@bp.post("/profile/passkeys")
@login_required
def add_passkey():
    """The new credential from passkeys.js (JSON), checked and kept."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        passkey = passkeys.add_passkey(
            current_user,
            current_user.session,
            body.get("credential"),
            body.get("name"),
            Client.from_request(),
        )
    except FlowError as error:
        return _json_error(error.message)
    flash(f"The passkey “{passkey.name}” is added: use it to sign in.", "success")
    return jsonify({"redirect": _profile(PASSKEYS)}), 201


@bp.post("/profile/passkeys/<passkey_id>/rename")
@login_required
def rename_passkey(passkey_id: str):
    try:
        passkey = passkeys.rename_passkey(
            current_user, passkey_id, request.form.get("name", ""), Client.from_request()
        )
    except FlowError as error:
        if error.code == "not_found":
            abort(404)
        flash(error.message, "error")
    else:
        flash(f"Renamed to “{passkey.name}”.", "success")
    return go(_profile(PASSKEYS))


@bp.post("/profile/passkeys/<passkey_id>/remove")
@login_required
def remove_passkey(passkey_id: str):
    if not _recent():
        return _confirm_first()
    try:
        passkeys.remove_passkey(
            current_user, current_user.session, passkey_id, None, Client.from_request()
        )
    except FlowError as error:
        if error.code == "not_found":
            abort(404)
        flash(error.message, "error")
    else:
        flash("The passkey is removed: it no longer signs in.", "success")
    return go(_profile(PASSKEYS))
