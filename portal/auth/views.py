"""Entrance views: translate forms to flows and flows back to pages."""

from flask import current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from portal.auth import bp
from portal.auth.forms import (
    ForgotPasswordForm,
    RecoveryStepForm,
    ResendForm,
    ResetPasswordForm,
    SecondStepForm,
    SignInForm,
    SignUpForm,
    VerifyForm,
)
from portal.extensions import limiter
from portal.flows import FlowError, mfa, notices, passkeys, password_reset
from portal.flows.signin import sign_in as sign_in_flow
from portal.flows.signin import sign_out as sign_out_flow
from portal.flows.signin import sign_out_everywhere as sign_out_everywhere_flow
from portal.flows.signup import pending_by_id, verify_pending
from portal.flows.signup import resend_code as resend_sign_up_code
from portal.flows.signup import sign_up as sign_up_flow
from portal.forms import EmptyForm
from portal.htmx import render_page_or_partial
from portal.origin import Origin
from portal.web import (
    back_to_sign_in,
    device_token,
    end_browser_session,
    form_status,
    json_body,
    redirect_to,
    safe_next,
    start_browser_session,
)


def limited(setting: str, **options):
    """A per-IP limit on a door attackers knock on, read from the config key `setting` at each
    request (as the API's `operation(limit=...)` does); counts are shared across workers with
    Redis storage."""
    return limiter.limit(lambda: current_app.config[setting], **options)


@bp.route("/signup", methods=["GET", "POST"])
@limited("WEB_SIGNUP_RATE_LIMIT", methods=["POST"])
def sign_up():
    """Start a sign-up; a code is emailed to confirm the address."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.show"))
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            result = sign_up_flow(
                form.value("email"),
                form.value("username"),
                form.value("password"),
                Origin.of_request(),
            )
        except FlowError as error:
            form.show(error)
        else:
            _bind_sign_up(result.pending_id, result.email)
            flash(f"We sent a 6-digit code to {result.email}.", "info")
            return redirect_to(url_for("auth.verify"))
    return render_page_or_partial(
        "auth/sign_up.html", "auth/_sign_up_form.html", form_status(form), form=form
    )


def _bind_sign_up(pending_id, email: str) -> None:
    """This browser confirms this sign-up, and no other (README "Rules worth knowing")."""
    session["sign_up"] = {"id": str(pending_id), "email": email}


def _bound_sign_up() -> dict:
    bound = session.get("sign_up")
    return bound if isinstance(bound, dict) else {}


@bp.route("/verify", methods=["GET", "POST"])
@limited("WEB_VERIFY_RATE_LIMIT", methods=["POST"])
def verify():
    """Type the emailed code: the sign-up this browser made becomes an account, signed in."""
    bound = _bound_sign_up()
    form = VerifyForm()
    if bound and form.validate_on_submit():
        try:
            user_session = verify_pending(
                bound.get("id"),
                bound.get("email"),
                form.value("code"),
                Origin.of_request(),
                kind="web",
                device_token=device_token(),
            )
        except FlowError as error:
            form.show(error)
        else:
            start_browser_session(user_session)
            flash("Your email is confirmed. Welcome!", "success")
            return redirect_to(url_for("profile.show"))
    elif not bound and request.method == "POST":
        flash("Sign in with the email and password you chose: we'll send a fresh code.", "info")
        return redirect_to(url_for("auth.sign_in"))
    return render_page_or_partial(
        "auth/verify.html",
        "auth/_verify_form.html",
        form_status(form),
        form=form,
        email=bound.get("email"),
        resend_form=ResendForm(),
    )


@bp.post("/verify/resend")
@limited("WEB_RESEND_CODE_RATE_LIMIT")
def resend_code():
    """Send a fresh code for this browser's sign-up (at most one a minute; the old one dies)."""
    form = ResendForm()
    message, status = None, 200
    if form.validate_on_submit():
        pending = pending_by_id(_bound_sign_up().get("id"))
        resend_sign_up_code(pending, Origin.of_request())
        message = (
            "If your sign-up is still waiting, a new code is on its way. Codes can be sent "
            "once a minute; the newest one is the one that works."
        )
    else:
        message, status = "Reload the page and try again.", 400
    if request.headers.get("HX-Request") == "true":
        return render_template("auth/_resend_status.html", message=message), status
    flash(message, "info" if status == 200 else "error")
    return redirect(url_for("auth.verify"), 303)


@bp.route("/signin", methods=["GET", "POST"])
@limited("WEB_SIGNIN_RATE_LIMIT", methods=["POST"])
def sign_in():
    """Email or username and password."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.show"))
    form = SignInForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user_session = sign_in_flow(
                form.value("login"),
                form.value("password"),
                Origin.of_request(),
                kind="web",
                device_token=device_token(),
            )
        except FlowError as error:
            if error.code == "email_not_verified":
                _bind_sign_up(error.extra["pending_id"], error.extra["email"])
                flash(error.message, "info")
                return redirect_to(url_for("auth.verify"))
            if error.code == "mfa_required":
                # The token stays in this browser's signed cookie; the code page spends it.
                session["second_step"] = {
                    "token": error.extra["mfa_token"],
                    "next": safe_next(form.value("next"), url_for("profile.show")),
                }
                return redirect_to(url_for("auth.second_step"))
            form.show(error)
        else:
            start_browser_session(user_session)
            return redirect_to(safe_next(form.value("next"), url_for("profile.show")))
    return render_page_or_partial(
        "auth/sign_in.html", "auth/_sign_in_form.html", form_status(form), form=form
    )


@bp.route("/signin/code", methods=["GET", "POST"])
@limited("WEB_SECOND_STEP_RATE_LIMIT", methods=["POST"])
def second_step():
    """After the right password: a code from the authenticator app, or a recovery code
    (`?method=recovery`). The session starts only now."""
    pending = session.get("second_step")
    if not isinstance(pending, dict) or not pending.get("token"):
        flash("Sign in with your password first.", "info")
        return redirect(url_for("auth.sign_in"))
    recovery = request.args.get("method") == "recovery"
    form = RecoveryStepForm() if recovery else SecondStepForm()
    if form.validate_on_submit():
        try:
            user_session = mfa.complete_second_step(
                pending["token"],
                Origin.of_request(),
                code=None if recovery else form.value("code"),
                recovery_code=form.value("recovery_code") if recovery else None,
                kind="web",
                device_token=device_token(),
            )
        except FlowError as error:
            if error.code == "invalid_token":
                session.pop("second_step", None)
                flash(error.message, "error")
                return redirect_to(url_for("auth.sign_in"))
            form.show(error)
        else:
            start_browser_session(user_session)
            return redirect_to(safe_next(pending.get("next"), url_for("profile.show")))
    return render_page_or_partial(
        "auth/second_step.html",
        "auth/_second_step_form.html",
        form_status(form),
        form=form,
        recovery=recovery,
    )


def _json_refusal(error: FlowError, status: int):
    return jsonify({"error": error.message, "code": error.code}), status


@bp.post("/signin/passkey/options")
@limited("WEB_PASSKEY_OPTIONS_RATE_LIMIT")
def passkey_options():
    """WebAuthn request options for "Sign in with a passkey" and passkey autofill (JSON)."""
    challenge_id, options = passkeys.authentication_options()
    return jsonify({"publicKey": options, "challenge_id": challenge_id})


@bp.post("/signin/passkey")
@limited("WEB_PASSKEY_SIGNIN_RATE_LIMIT")
def passkey_sign_in():
    """The browser's assertion (JSON); a passkey with user verification signs in at once."""
    body = json_body()
    try:
        user_session = passkeys.sign_in_with_passkey(
            body.get("challenge_id"),
            body.get("credential"),
            Origin.of_request(),
            kind="web",
            device_token=device_token(),
        )
    except FlowError as error:
        return _json_refusal(error, 403 if error.code == "account_disabled" else 401)
    start_browser_session(user_session)
    return jsonify({"redirect": safe_next(body.get("next"), url_for("profile.show"))})


@bp.post("/signout")
@login_required
def sign_out():
    """End this session on the server, then forget the cookie."""
    sign_out_flow(current_user, current_user.current_session, Origin.of_request())
    return back_to_sign_in("You are signed out.")


@bp.post("/signout/everywhere")
@login_required
def sign_out_everywhere():
    """End every session of this account, this one included."""
    sign_out_everywhere_flow(current_user, Origin.of_request())
    return back_to_sign_in("You are signed out on every device.")


@bp.route("/forgot-password", methods=["GET", "POST"])
@limited("WEB_FORGOT_PASSWORD_RATE_LIMIT", methods=["POST"])
def forgot_password():
    """Ask for a reset link; the answer never says whether the account exists."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            password_reset.request_password_reset(form.value("email"), Origin.of_request())
        except FlowError as error:
            form.show(error)
        else:
            return render_page_or_partial(
                "auth/forgot_password_sent.html",
                "auth/_forgot_password_sent.html",
                email=form.value("email").strip()[:254],
            )
    return render_page_or_partial(
        "auth/forgot_password.html",
        "auth/_forgot_password_form.html",
        form_status(form),
        form=form,
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limited("WEB_RESET_PASSWORD_RATE_LIMIT", methods=["POST"])
def reset_password(token: str):
    """Choose a new password from the emailed link."""
    form = ResetPasswordForm()
    try:
        user = password_reset.check_reset_token(token)
    except FlowError as error:
        return render_template("auth/reset_invalid.html", message=error.message), 400
    if form.validate_on_submit():
        try:
            password_reset.reset_password(token, form.value("password"), Origin.of_request())
        except FlowError as error:
            if error.code == "invalid_reset_token":
                return render_template("auth/reset_invalid.html", message=error.message), 400
            form.show(error)
        else:
            return back_to_sign_in(
                "Your password is changed and every session was ended. Sign in again.", "success"
            )
    return render_page_or_partial(
        "auth/reset_password.html",
        "auth/_reset_password_form.html",
        form_status(form),
        form=form,
        token=token,
        user=user,
    )


@bp.route("/not-me/<token>", methods=["GET", "POST"])
@limited("WEB_NOT_ME_RATE_LIMIT", methods=["POST"])
def not_me(token: str):
    """From the new sign-in email: someone else signed in. GET only asks (mail scanners
    follow links); the POST ends every session and sends a reset link."""
    form = EmptyForm()
    try:
        user = notices.check_not_me(token)
    except FlowError as error:
        return render_template("auth/reset_invalid.html", message=error.message), 400
    if form.validate_on_submit():
        try:
            notices.report_not_me(token, Origin.of_request())
        except FlowError as error:
            return render_template("auth/reset_invalid.html", message=error.message), 400
        end_browser_session()
        return render_template("auth/not_me_done.html", email=user.email)
    return render_template("auth/not_me.html", form=form, token=token, user=user)
