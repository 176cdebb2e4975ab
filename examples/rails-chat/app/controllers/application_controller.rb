class ApplicationController < ActionController::Base
  before_action :require_login
  helper_method :current_user

  private

  def current_user
    @current_user ||= session[:user_id] && User.find_by(id: session[:user_id])
  end

  def current_chat_session
    ChatSession.find_by(id: session[:chat_session_id])
  end

  def require_login
    redirect_to "/login" unless current_user
  end
end
